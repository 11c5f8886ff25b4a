package main

import (
	"sort"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// BenchmarkScrapeRealEnsemble scrapes the exporter over HTTP while it polls a
// real, healthy 3 voters + 1 observer ensemble, and reports the median and
// p99 of the scrape times: run it with -benchtime 100x for "median of 100".
func BenchmarkScrapeRealEnsemble(b *testing.B) {
	e := zkensemble.Start(b, zkensemble.Options{Voters: 3, Observers: 1})
	x := startExporter(b, "--zookeeper.servers="+e.Servers(), "--zookeeper.ensemble=bench")
	for i := 0; i < 5; i++ { // warm up the JVMs' 4lw paths and the exporter
		x.scrape("/metrics")
	}
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := x.scrape("/metrics")
		times = append(times, s.took)
		if v, _ := s.value("zookeeper_ensemble_voters_up", ""); v != 3 {
			b.Fatalf("scrape %d: voters_up %v, want 3", i, v)
		}
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
	b.ReportMetric(float64(times[(len(times)*99)/100].Microseconds())/1000, "ms-p99")
}

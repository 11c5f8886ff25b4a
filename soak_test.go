package main

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// rssKiB reads a process' resident set size from /proc.
func rssKiB(t testing.TB, pid int) int { return procKiB(t, pid, "VmRSS:") }

// procKiB reads one kB field of /proc/PID/status (VmRSS:, VmHWM: the peak).
func procKiB(t testing.TB, pid int, field string) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	t.Fatal("no " + field)
	return 0
}

// TestSoakRSS scrapes a real 3+1 ensemble through the exporter process a
// bounded number of times: every scrape is whole, and the exporter's
// goroutines and file descriptors come back to where they were. Its RSS is
// a figure, not a verdict (a busy machine moves it): BenchmarkSoakRSS
// reports it in make bench.
func TestSoakRSS(t *testing.T) {
	// Enough scrapes for a leak of one goroutine or fd a scrape to show;
	// the long soak is BenchmarkSoakRSS's.
	warmup, soak := 50, 400
	start, end, _ := soakExporter(t, warmup, soak)
	for _, name := range []string{"go_goroutines", "process_open_fds"} {
		// A few idle keep-alive connections may come and go.
		if end[name] > start[name]+8 {
			t.Errorf("%s grew from %v to %v over %d scrapes", name, start[name], end[name], soak)
		}
	}
	t.Logf("after %d warm-up scrapes: %v; after %d more: %v", warmup, start, soak, end)
}

// soakExporter runs warmup then soak scrapes of a real 3+1 ensemble, each
// one checked whole, and returns the exporter's own gauges (goroutines,
// fds, RSS) before and after the soak.
func soakExporter(t testing.TB, warmup, soak int) (before, after map[string]float64, took time.Duration) {
	e := zkensemble.Start(t, zkensemble.Options{Voters: 3, Observers: 1})
	x := startExporter(t, "--zookeeper.servers="+e.Servers(), "--zookeeper.ensemble=soak")
	own := func() map[string]float64 {
		_, body := x.get("/metrics")
		s := parseText(t, string(body))
		out := map[string]float64{}
		for _, name := range []string{"go_goroutines", "process_open_fds", "process_resident_memory_bytes"} {
			out[name], _ = s.value(name, "")
		}
		return out
	}
	for i := 0; i < warmup; i++ {
		x.get("/metrics")
	}
	before = own()
	began := time.Now()
	for i := 0; i < soak; i++ {
		if code, body := x.get("/metrics"); code != 200 || !strings.Contains(string(body), "zookeeper_ensemble_quorum{ensemble=\"soak\"} 1") {
			t.Fatalf("scrape %d: %d", i, code)
		}
	}
	took = time.Since(began)
	// The exporter's own view after a moment: a scrape's goroutines end
	// just after its answer.
	time.Sleep(200 * time.Millisecond)
	return before, own(), took
}

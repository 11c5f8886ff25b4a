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
func rssKiB(t testing.TB, pid int) int {
	t.Helper()
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// TestSoakRSS scrapes a real 3+1 ensemble through the exporter process a
// bounded number of times and checks that its memory stays flat.
func TestSoakRSS(t *testing.T) {
	warmup, soak := 200, 1500
	if testing.Short() {
		warmup, soak = 50, 200
	}
	e := zkensemble.Start(t, zkensemble.Options{Voters: 3, Observers: 1})
	x := startExporter(t, "--zookeeper.servers="+e.Servers(), "--zookeeper.ensemble=soak")
	for i := 0; i < warmup; i++ {
		x.get("/metrics")
	}
	pid := x.cmd.Process.Pid
	start := rssKiB(t, pid)
	began := time.Now()
	for i := 0; i < soak; i++ {
		if code, body := x.get("/metrics"); code != 200 || !strings.Contains(string(body), "zookeeper_ensemble_quorum{ensemble=\"soak\"} 1") {
			t.Fatalf("scrape %d: %d", i, code)
		}
	}
	end := rssKiB(t, pid)
	t.Logf("soak: %d scrapes of a real 3+1 ensemble in %v; RSS after %d warm-up scrapes %d KiB, after the soak %d KiB (%+d KiB)",
		soak, time.Since(began).Round(time.Millisecond), warmup, start, end, end-start)
	if end-start > 16*1024 {
		t.Errorf("RSS grew by %d KiB over %d scrapes", end-start, soak)
	}
}

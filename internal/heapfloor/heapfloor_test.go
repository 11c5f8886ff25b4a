package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

func TestPercent(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name               string
		live, roots, floor uint64
		want               int
	}{
		{"small heap: goal at the floor", 8 * mib, 0, 32 * mib, 300},
		{"roots count in Go's goal", 8 * mib, 2 * mib, 32 * mib, 240},
		{"3+1 ensemble's heap", 5 * mib, 1 * mib, 16 * mib, 183},
		{"nearly empty heap: Go's heap minimum decides", 1 << 20, 0, 16 * mib, 400},
		{"goal below base: base", 20 * mib, 0, 32 * mib, Base},
		{"heap above the floor: base", 64 * mib, 1 * mib, 32 * mib, Base},
		{"heap at the floor: base", 32 * mib, 0, 32 * mib, Base},
		{"no reading yet: base", 0, 0, 32 * mib, Base},
	} {
		if got := Percent(c.live, c.roots, c.floor); got != c.want {
			t.Errorf("%s: Percent(%d, %d, %d) = %d, want %d", c.name, c.live, c.roots, c.floor, got, c.want)
		}
	}
}

// TestStartRaisesHeapGoal: on this test's small heap (its goal at
// GOGC=100 is under 10 MiB), a floor of 24 MiB puts Go's own heap goal at
// about the floor after a collection (not above it: the goal counts
// stacks and globals too), and a floor of 0 starts nothing.
func TestStartRaisesHeapGoal(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(Base))
	if Start(0) {
		t.Fatal("Start(0) started a tuner")
	}
	const floor = 24 << 20
	if !Start(floor) {
		t.Fatal("Start(24 MiB) did not start")
	}
	// The finalizer runs on its own goroutine after a cycle: give it a
	// few cycles, not a wall-clock wait. The goal read after a cycle is
	// set from the live heap of the one before: allow it 10 %.
	goal := []metrics.Sample{{Name: "/gc/heap/goal:bytes"}}
	for i := 0; i < 50; i++ {
		runtime.GC()
		runtime.Gosched()
		metrics.Read(goal)
		if g := goal[0].Value.Uint64(); g > floor*9/10 {
			if g > floor*11/10 {
				t.Fatalf("heap goal %d MiB, want about the 24 MiB floor", g>>20)
			}
			return
		}
	}
	t.Fatalf("heap goal %d MiB after 50 collections with a 24 MiB floor, want about 24", goal[0].Value.Uint64()>>20)
}

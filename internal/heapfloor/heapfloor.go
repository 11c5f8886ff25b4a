// Package heapfloor keeps the Go heap goal from falling below a floor.
//
// An exporter watching one small ensemble lives on a heap of about 5 MB
// and allocates about 1.6 MB a scrape: at GOGC=100 the collector ran
// about once a scrape (every 0.9 scrapes) and the scavenger gave the pages
// back to the kernel in between, only for the next scrape to fault them in
// again. GOGC=400 alone took a quarter off the exporter's CPU on a 3+1
// ensemble, and that work lands on the scrape's own latency
// (docs/performance.md). A floor of 16 MiB on the heap goal costs that
// much memory at most and removes most of those cycles (floors of 24 and
// 32 MiB measured no better); a large heap (a thousand members) is well
// above the floor and keeps GOGC=100, so its peak memory does not change.
package heapfloor

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// Base is the GC percent used above the floor: Go's default.
const Base = 100

// heapMinimum is the Go runtime's least heap goal at GOGC=100
// (defaultHeapMinimum in runtime/mgcpacer.go), which it scales by
// GOGC/100: at GOGC=400 no heap is collected below 16 MiB.
const heapMinimum = 4 << 20

// Percent is the GC percent that puts the heap goal at floor, and never
// below Base, for a live heap of live bytes and roots bytes of goroutine
// stacks and globals. Go sets the goal at live + (live+roots)*percent/100,
// and at least heapMinimum*percent/100: the percent must keep both at the
// floor or under.
func Percent(live, roots, floor uint64) int {
	if live == 0 || floor <= live {
		return Base
	}
	p := min((floor-live)*100/(live+roots), floor*100/heapMinimum)
	return max(int(min(p, 1<<30)), Base)
}

// Start keeps the heap goal at floor bytes or more from now on: after
// every collection it sets the GC percent from the live heap and the
// roots (Percent).
// It does nothing when floor is 0, and returns false then.
func Start(floor uint64) bool {
	if floor == 0 {
		return false
	}
	t := &tuner{floor: floor, last: -1}
	t.sample = []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/gc/scan/stack:bytes"}, {Name: "/gc/scan/globals:bytes"}}
	t.adjust()
	t.arm()
	return true
}

type tuner struct {
	floor  uint64
	last   int
	sample []metrics.Sample
}

// arm runs adjust once the next collection has found the sentinel
// unreachable (finalizers run after the cycle), then re-arms: once per
// collection, no goroutine polling.
func (t *tuner) arm() {
	s := new(sentinel)
	runtime.SetFinalizer(s, func(*sentinel) {
		t.adjust()
		t.arm()
	})
}

// sentinel is not a zero-size type: those may share an address and
// never be collected.
type sentinel struct{ _ [16]byte }

func (t *tuner) adjust() {
	metrics.Read(t.sample)
	var v [3]uint64
	for i, s := range t.sample {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	if p := Percent(v[0], v[1]+v[2], t.floor); p != t.last {
		debug.SetGCPercent(p)
		t.last = p
	}
}

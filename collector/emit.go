package collector

import (
	"hash/maphash"
	"slices"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
)

const namespace = "zookeeper"

type family struct {
	kind       valueKind
	help       string
	labelNames []string
	support    int // for a planned family, how many members send it (plan)
}

// emitter sends metrics for one scrape and keeps the exposition valid
// whatever the servers sent: a name keeps one type, help and label set, a
// series is sent once, and no summary's _sum/_count shadows another name.
// What would break that is dropped and counted.
type emitter struct {
	ch       chan<- prometheus.Metric
	names    *Names
	families map[string]family
	taken    map[string]bool // names used by summaries' _sum and _count
	series   map[[2]uint64]struct{}
	dropped  int
	slabs    slabs
	// direct: the series go to Gather, which needs no descriptors but
	// valid names (checked once a family).
	direct bool
}

// newEmitter sizes its maps for about families names and series series,
// so a scrape does not grow them step by step.
func newEmitter(ch chan<- prometheus.Metric, names *Names, families, series int) *emitter {
	return &emitter{ch: ch, names: names, families: make(map[string]family, families), taken: map[string]bool{}, series: make(map[[2]uint64]struct{}, series)}
}

// Two independent 64-bit hashes identify a series (name and label values)
// without building a string for it.
var seriesSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

func seriesID(name string, labelValues []string) [2]uint64 {
	var id [2]uint64
	for i, seed := range seriesSeeds {
		var h maphash.Hash
		h.SetSeed(seed)
		h.WriteString(name)
		for _, v := range labelValues {
			h.WriteByte(0xff) // never in UTF-8
			h.WriteString(v)
		}
		id[i] = h.Sum64()
	}
	return id
}

// reserve registers a family's schema before any series (see plan); false
// when another family holds the name or one of its summary names.
func (e *emitter) reserve(name, help string, kind valueKind, labelNames []string, support int) bool {
	if _, ok := e.families[name]; ok || e.taken[name] || (e.direct && !validFamily(name, labelNames)) {
		return false
	}
	if kind == kindSummary {
		if _, ok := e.families[name+"_sum"]; ok {
			return false
		}
		if _, ok := e.families[name+"_count"]; ok {
			return false
		}
		e.taken[name+"_sum"], e.taken[name+"_count"] = true, true
	}
	e.families[name] = family{kind: kind, help: help, labelNames: labelNames, support: support}
	return true
}

// admit checks a series against the families sent so far.
func (e *emitter) admit(name, help string, kind valueKind, labelNames, labelValues []string) bool {
	return e.admitFamily(name, help, kind, labelNames) && e.newSeries(name, labelValues)
}

// newSeries says whether a series was not sent before, and records it.
func (e *emitter) newSeries(name string, labelValues []string) bool {
	id := seriesID(name, labelValues)
	if _, dup := e.series[id]; dup {
		e.dropped++
		return false
	}
	e.series[id] = struct{}{}
	return true
}

// admitFamily checks a series' family (not the series: see admit)
// against the families sent so far.
func (e *emitter) admitFamily(name, help string, kind valueKind, labelNames []string) bool {
	if f, ok := e.families[name]; ok {
		if f.kind != kind || f.help != help || !slices.Equal(f.labelNames, labelNames) {
			e.dropped++
			return false
		}
	} else {
		if e.taken[name] || (e.direct && !validFamily(name, labelNames)) {
			e.dropped++
			return false
		}
		if kind == kindSummary {
			if _, ok := e.families[name+"_sum"]; ok {
				e.dropped++
				return false
			}
			if _, ok := e.families[name+"_count"]; ok {
				e.dropped++
				return false
			}
			e.taken[name+"_sum"], e.taken[name+"_count"] = true, true
		}
		e.families[name] = family{kind: kind, help: help, labelNames: labelNames}
	}
	return true
}

// fixed sends one series of a fixed metric.
func (e *emitter) fixed(f *fixed, v float64, labelValues ...string) {
	if !e.admit(f.name, f.help, f.kind, f.labels, labelValues) {
		return
	}
	e.send(f.desc, f.name, f.help, f.kind, v, f.labels, labelValues)
}

// send builds one gauge or counter series and sends it; false when its
// label values cannot make one (invalid UTF-8 from the server, for
// instance), as prometheus.NewConstMetric would refuse.
func (e *emitter) send(desc *prometheus.Desc, name, help string, kind valueKind, v float64, labelNames, labelValues []string) bool {
	pairs, ok := e.slabs.labelPairs(labelNames, labelValues)
	if !ok {
		e.dropped++
		return false
	}
	s := e.slabs.newSeries()
	s.desc, s.name, s.help, s.kind, s.m.Label, s.value = desc, name, help, kind, pairs, v
	if kind == kindCounter {
		s.m.Counter = e.slabs.newCounter()
		s.m.Counter.Value = &s.value
	} else {
		s.m.Gauge = e.slabs.newGauge()
		s.m.Gauge.Value = &s.value
	}
	e.ch <- s
	return true
}

// desc is the descriptor of a series for a registry; none for Gather.
func (e *emitter) desc(name, help string, labelNames []string) *prometheus.Desc {
	if e.direct {
		return nil
	}
	return e.names.desc(name, help, labelNames)
}

func (e *emitter) gauge(name, help string, v float64, labelNames []string, labelValues ...string) bool {
	return e.value(kindGauge, name, help, v, labelNames, labelValues)
}

func (e *emitter) counter(name, help string, v float64, labelNames []string, labelValues ...string) bool {
	return e.value(kindCounter, name, help, v, labelNames, labelValues)
}

// value sends a gauge or counter; false when it was dropped.
func (e *emitter) value(kind valueKind, name, help string, v float64, labelNames, labelValues []string) bool {
	full := namespace + "_" + name
	if !e.admit(full, help, kind, labelNames, labelValues) {
		return false
	}
	return e.send(e.desc(full, help, labelNames), full, help, kind, v, labelNames, labelValues)
}

// summary sends a summary; quantiles are sorted by quantile.
func (e *emitter) summary(name, help string, count uint64, sum float64, quantiles []quantile, labelNames []string, labelValues ...string) bool {
	full := namespace + "_" + name
	if !e.admit(full, help, kindSummary, labelNames, labelValues) {
		return false
	}
	pairs, ok := e.slabs.labelPairs(labelNames, labelValues)
	if !ok {
		e.dropped++
		return false
	}
	// One allocation for the summary's numbers, one for its quantiles.
	nums := e.slabs.newFloats(1 + 2*len(quantiles))
	nums[0] = sum
	qs := make([]dto.Quantile, len(quantiles))
	ptrs := make([]*dto.Quantile, len(quantiles))
	for i, q := range quantiles {
		nums[1+2*i], nums[2+2*i] = q.q, q.v
		qs[i].Quantile, qs[i].Value = &nums[1+2*i], &nums[2+2*i]
		ptrs[i] = &qs[i]
	}
	s := e.slabs.newSeries()
	s.desc, s.name, s.help, s.kind, s.m.Label = e.desc(full, help, labelNames), full, help, kindSummary, pairs
	s.m.Summary = &dto.Summary{SampleCount: &count, SampleSum: &nums[0], Quantile: ptrs}
	e.ch <- s
	return true
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(strings.TrimSpace(s), 64) }

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// validFamily checks a family's names as prometheus.NewDesc does (a
// registry gets the error from the descriptor; Gather checks here, once
// a family).
func validFamily(name string, labelNames []string) bool {
	if !model.UTF8Validation.IsValidMetricName(name) {
		return false
	}
	for i, l := range labelNames {
		if !model.UTF8Validation.IsValidLabelName(l) || strings.HasPrefix(l, "__") || slices.Contains(labelNames[:i], l) {
			return false
		}
	}
	return true
}

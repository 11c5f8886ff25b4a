package collector

import (
	"strconv"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

const namespace = "zookeeper"

// descCache keeps one Desc per name, help and label names across scrapes,
// so a scrape does not rebuild hundreds of Descs. Its size is bounded by
// the distinct mntr keys seen, capped by maxCachedDescs.
var descCache sync.Map

const maxCachedDescs = 20000

var descCount struct {
	sync.Mutex
	n int
}

func desc(name, help string, labelNames []string) *prometheus.Desc {
	id := name + "\x00" + help + "\x00" + strings.Join(labelNames, "\x00")
	if d, ok := descCache.Load(id); ok {
		return d.(*prometheus.Desc)
	}
	d := prometheus.NewDesc(name, help, labelNames, nil)
	descCount.Lock()
	defer descCount.Unlock()
	if descCount.n < maxCachedDescs {
		if _, loaded := descCache.LoadOrStore(id, d); !loaded {
			descCount.n++
		}
	}
	return d
}

type family struct {
	kind       valueKind
	help       string
	labelNames string
}

// emitter sends metrics for one scrape and keeps the exposition valid
// whatever the servers sent: a name keeps one type, help and label set, a
// series is sent once, and no summary's _sum/_count shadows another name.
// What would break that is dropped and counted.
type emitter struct {
	ch       chan<- prometheus.Metric
	families map[string]family
	taken    map[string]bool // names used by summaries' _sum and _count
	series   map[string]bool
	dropped  int
}

func newEmitter(ch chan<- prometheus.Metric) *emitter {
	return &emitter{ch: ch, families: map[string]family{}, taken: map[string]bool{}, series: map[string]bool{}}
}

// admit checks a series against the families sent so far.
func (e *emitter) admit(name, help string, kind valueKind, labelNames, labelValues []string) bool {
	ln := strings.Join(labelNames, ",")
	if f, ok := e.families[name]; ok {
		if f.kind != kind || f.help != help || f.labelNames != ln {
			e.dropped++
			return false
		}
	} else {
		if e.taken[name] {
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
		e.families[name] = family{kind: kind, help: help, labelNames: ln}
	}
	id := name + "\x00" + strings.Join(labelValues, "\x00")
	if e.series[id] {
		e.dropped++
		return false
	}
	e.series[id] = true
	return true
}

func (e *emitter) gauge(name, help string, v float64, labelNames []string, labelValues ...string) {
	e.value(prometheus.GaugeValue, name, help, v, labelNames, labelValues)
}

func (e *emitter) counter(name, help string, v float64, labelNames []string, labelValues ...string) {
	e.value(prometheus.CounterValue, name, help, v, labelNames, labelValues)
}

func (e *emitter) value(t prometheus.ValueType, name, help string, v float64, labelNames, labelValues []string) {
	kind := kindGauge
	if t == prometheus.CounterValue {
		kind = kindCounter
	}
	full := namespace + "_" + name
	if !e.admit(full, help, kind, labelNames, labelValues) {
		return
	}
	m, err := prometheus.NewConstMetric(desc(full, help, labelNames), t, v, labelValues...)
	if err != nil {
		// Invalid UTF-8 in a label value from the server, for instance.
		e.dropped++
		return
	}
	e.ch <- m
}

func (e *emitter) summary(name, help string, count uint64, sum float64, quantiles map[float64]float64, labelNames []string, labelValues ...string) {
	full := namespace + "_" + name
	if !e.admit(full, help, kindSummary, labelNames, labelValues) {
		return
	}
	m, err := prometheus.NewConstSummary(desc(full, help, labelNames), count, sum, quantiles, labelValues...)
	if err != nil {
		e.dropped++
		return
	}
	e.ch <- m
}

func parseFloat(s string) (float64, error) { return strconv.ParseFloat(strings.TrimSpace(s), 64) }

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

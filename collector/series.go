package collector

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// series is one metric of a scrape as client_golang takes it (a
// prometheus.Metric), built without what prometheus.NewConstMetric
// allocates for every series: its label pairs, the (ensemble, server)
// pairs above all, are shared by every series of a member, and the
// series, gauges, counters and pairs come from per-scrape slabs. At a
// thousand members of 3.8 (240,000 series) NewConstMetric's own pairs
// were half the scrape's allocations (docs/performance.md).
type series struct {
	// m is the series as the exposition reads it: its label pairs and
	// value. Gather hands it out as is; the registry gets a copy (Write).
	m    dto.Metric
	desc *prometheus.Desc // nil when built for Gather, which needs none
	// name, help and kind make the series' family in Gather.
	name, help string
	kind       valueKind
	value      float64
}

func (s *series) Desc() *prometheus.Desc { return s.desc }

// Write hands out what was built at emission: the registry and the
// encoders only read it.
func (s *series) Write(out *dto.Metric) error {
	out.Label = s.m.Label
	out.Gauge, out.Counter, out.Summary = s.m.Gauge, s.m.Counter, s.m.Summary
	return nil
}

// quantile is one quantile of a summary (quantiles are few: a slice, not a map).
type quantile struct{ q, v float64 }

// slabSize is how many series (and label pairs) one allocation holds.
const slabSize = 512

// slabs hand out the structs of a scrape's series a slab at a time; what
// is handed out lives until the scrape's exposition is written, as the
// whole slab does.
type slabs struct {
	series   []series
	gauges   []dto.Gauge
	counters []dto.Counter
	pairs    []dto.LabelPair
	pairPtrs []*dto.LabelPair
	floats   []float64
	strings  []string
	// member is the last (ensemble, server) pair set: a member's series
	// are emitted together, so one entry hits nearly always.
	memberValues [2]string
	member       []*dto.LabelPair
	// ensemble is the last ensemble's pair, for ensemble-only series.
	ensembleValue string
	ensemble      []*dto.LabelPair
}

// take hands out the next element of a slab, starting a new slab of
// slabSize when it is used up.
func take[T any](slab *[]T) *T {
	if len(*slab) == 0 {
		*slab = make([]T, slabSize)
	}
	p := &(*slab)[0]
	*slab = (*slab)[1:]
	return p
}

func (s *slabs) newSeries() *series       { return take(&s.series) }
func (s *slabs) newGauge() *dto.Gauge     { return take(&s.gauges) }
func (s *slabs) newCounter() *dto.Counter { return take(&s.counters) }

func (s *slabs) newFloats(n int) []float64 {
	if len(s.floats) < n {
		s.floats = make([]float64, max(slabSize, n))
	}
	f := s.floats[:n:n]
	s.floats = s.floats[n:]
	return f
}

// newString holds a label value for a pair to point to.
func (s *slabs) newString(v string) *string {
	p := take(&s.strings)
	*p = v
	return p
}

func (s *slabs) newPair(name, value *string) *dto.LabelPair {
	p := take(&s.pairs)
	p.Name, p.Value = name, value
	return p
}

func (s *slabs) newPairSlice(n int) []*dto.LabelPair {
	if len(s.pairPtrs) < n {
		s.pairPtrs = make([]*dto.LabelPair, max(slabSize, n))
	}
	ps := s.pairPtrs[:0:n]
	s.pairPtrs = s.pairPtrs[n:]
	return ps
}

// labelPairs returns the pairs of names and values, sorted by name as
// client_golang wants them; false when they cannot make a series (a count
// that does not match, or a value that is not UTF-8, as NewConstMetric
// refuses). The names must outlive the scrape (descriptors' and caches'
// slices); the values are copied into the pairs' own strings.
func (s *slabs) labelPairs(names, values []string) ([]*dto.LabelPair, bool) {
	if len(names) != len(values) {
		return nil, false
	}
	if len(names) == 2 && names[0] == "ensemble" && names[1] == "server" {
		if s.member == nil || values[0] != s.memberValues[0] || values[1] != s.memberValues[1] {
			if !utf8.ValidString(values[0]) || !utf8.ValidString(values[1]) {
				return nil, false
			}
			s.memberValues = [2]string{values[0], values[1]}
			s.member = append(s.newPairSlice(2), s.newPair(&names[0], s.newString(values[0])), s.newPair(&names[1], s.newString(values[1])))
		}
		return s.member, true
	}
	if len(names) == 1 && names[0] == "ensemble" {
		if s.ensemble == nil || values[0] != s.ensembleValue {
			if !utf8.ValidString(values[0]) {
				return nil, false
			}
			s.ensembleValue = values[0]
			s.ensemble = append(s.newPairSlice(1), s.newPair(&names[0], s.newString(values[0])))
		}
		return s.ensemble, true
	}
	ps := s.newPairSlice(len(names))
	for i := range names {
		if !utf8.ValidString(values[i]) {
			return nil, false
		}
		var p *dto.LabelPair
		switch {
		// The member's own pairs, shared.
		case names[i] == "ensemble" && s.member != nil && values[i] == *s.member[0].Value:
			p = s.member[0]
		case names[i] == "server" && s.member != nil && values[i] == *s.member[1].Value:
			p = s.member[1]
		default:
			p = s.newPair(&names[i], s.newString(values[i]))
		}
		ps = append(ps, p)
	}
	if !slices.IsSortedFunc(ps, comparePairs) {
		slices.SortFunc(ps, comparePairs)
	}
	return ps, true
}

func comparePairs(a, b *dto.LabelPair) int { return strings.Compare(*a.Name, *b.Name) }

package collector

import (
	"iter"
	"slices"
	"strings"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
)

// The passthrough of a scrape is kept compact between the members' replies
// and the exposition, and its series are built one family at a time while
// the exposition is written (passStream.families). At a thousand members
// of 3.8 the passthrough is 194,000 series: held as mapped metrics and then
// as client_golang's structs they were most of the scrape's peak heap
// (docs/performance.md); compact, they are about 30 bytes each.

// passSpec is what the metrics of many members share: a metric's name,
// help, kind and whether ZooKeeper itself sends it. Each mapping worker
// interns its own (compactor): a few hundred a scrape.
type passSpec struct {
	name, help string // name without zookeeper_
	full       string // name with zookeeper_, built once, not per series
	kind       valueKind
	known      bool
	drop       string // a drop's reason (the metric is nothing else)
	// fam is the family this spec's series without labels of their own
	// went to (-1: none yet); set by the admission, which runs on one
	// goroutine.
	fam int32
	// verdict is what Limits.admissible says of the spec's metrics
	// without labels of their own (judged: said), kept by the admission:
	// specs live for one scrape, under one set of limits.
	verdict string
	judged  bool
}

// passMetric is one member's metric, compact: its spec, its own labels
// (nil: only ensemble and server) and its numbers in its member's vals:
// a gauge's or counter's value, or a summary's count, sum and nq
// (quantile, value) pairs.
type passMetric struct {
	spec   *passSpec
	labels *mntrLabels
	vals   int32
	nq     int32
}

// passMember is one member's passthrough, compact.
type passMember struct {
	ensemble, server string
	metrics          []passMetric
	vals             []float64
	pairs            []*dto.LabelPair // its ensemble and server pairs, built once
}

// view is the metric as the limits and the plan read it (no numbers).
func (m *passMetric) view() mntrMetric {
	s := m.spec
	return mntrMetric{drop: s.drop, known: s.known, name: s.name, help: s.help, kind: s.kind, labels: m.labels}
}

// compactor interns specs for one mapping worker (no lock: one goroutine).
// They are found by name, the rest compared: hashing each metric's help
// text too cost more than the few specs a name has (nearly always one).
type compactor struct {
	specs map[string][]*passSpec
}

func (c *compactor) intern(m *mntrMetric) *passSpec {
	k := passSpec{name: m.name, help: m.help, kind: m.kind, known: m.known, drop: m.drop, fam: -1}
	same := c.specs[m.name]
	for _, s := range same {
		if s.help == k.help && s.kind == k.kind && s.known == k.known && s.drop == k.drop {
			return s
		}
	}
	if c.specs == nil {
		c.specs = map[string][]*passSpec{}
	}
	s := &k
	s.full = namespace + "_" + s.name
	c.specs[m.name] = append(same, s)
	return s
}

// compact turns one member's mapped metrics into a passMember.
func (c *compactor) compact(ensembleName, server string, mapped []mntrMetric) passMember {
	n := 0
	for i := range mapped {
		if s := mapped[i].summary; s != nil {
			n += 2 + 2*len(s.quantiles)
		} else {
			n++
		}
	}
	pm := passMember{ensemble: ensembleName, server: server, metrics: make([]passMetric, len(mapped)), vals: make([]float64, 0, n)}
	for i := range mapped {
		m := &mapped[i]
		pm.metrics[i] = passMetric{spec: c.intern(m), labels: m.labels, vals: int32(len(pm.vals))}
		if m.drop != "" {
			continue
		}
		if s := m.summary; s != nil {
			pm.vals = append(pm.vals, float64(s.count), s.sum)
			for _, q := range s.quantiles {
				pm.vals = append(pm.vals, q.q, q.v)
			}
			pm.metrics[i].nq = int32(len(s.quantiles))
			continue
		}
		pm.vals = append(pm.vals, m.value)
	}
	return pm
}

// passFamily is one passthrough family and the series admitted to it.
type passFamily struct {
	name, help string // name with zookeeper_
	kind       valueKind
	labelNames []string // with ensemble and server
	recs       []passRecord
	skip       bool // its name is taken by another family (Gather)
}

// exposed says whether f is written: not skipped, and with a series.
func (f *passFamily) exposed() bool { return !f.skip && len(f.recs) > 0 }

// passRecord is one admitted series: its member, own labels and numbers.
type passRecord struct {
	labels *mntrLabels
	member int32
	vals   int32
	nq     int32
}

// passStream is a scrape's admitted passthrough, ready to be built family
// by family.
type passStream struct {
	members  []passMember
	families []*passFamily // sorted by name (sortFamilies)
	byName   map[string]int32
	// sentBy[f] is 1 + the member that sent a series without labels of
	// its own to families[f] last: within a member such a series can
	// only repeat itself (admit).
	sentBy []int32
}

// admit decides which of one member's metrics are sent, within its limits
// and the families the plan reserved, in the order it sent them, and
// records them; it returns what it dropped, by reason. (It is what
// emitMapped did series by series before the series were built here.)
func (p *passStream) admit(e *emitter, member int, lim Limits) map[string]int {
	pm := &p.members[member]
	var drops map[string]int
	drop := func(reason string) {
		if drops == nil {
			drops = map[string]int{}
		}
		drops[reason]++
	}
	memberValues := []string{pm.ensemble, pm.server}
	memberValid := utf8.ValidString(pm.ensemble) && utf8.ValidString(pm.server)
	sent := 0
	var perFamily map[string]int
	for i := range pm.metrics {
		m := &pm.metrics[i]
		spec := m.spec
		unlabelled := m.labels == nil || len(m.labels.names) == 0
		var reason string
		if unlabelled {
			if !spec.judged {
				spec.verdict, spec.judged = lim.admissible(m.view()), true
			}
			reason = spec.verdict
		} else {
			reason = lim.admissible(m.view())
		}
		if reason != "" {
			drop(reason)
			continue
		}
		if sent >= lim.MaxSeriesPerMember {
			drop(dropSeriesLimit)
			continue
		}
		fam := spec.fam
		if !unlabelled || fam < 0 {
			// The first series without labels of its spec, or one with
			// labels: checked against the families in full. A spec
			// whose series without labels went to a family before has
			// nothing more to check but whether this member repeats it
			// (below): same name, help, kind and labels.
			labelNames, labelValues := memberLabels, memberValues
			if !unlabelled {
				if perFamily == nil {
					perFamily = map[string]int{}
				}
				if perFamily[spec.name] >= lim.MaxSeriesPerFamily {
					drop(dropLabelValuesLimit)
					continue
				}
				perFamily[spec.name]++
				labelNames = append(memberLabels[:2:2], m.labels.names...)
				labelValues = append([]string{pm.ensemble, pm.server}, m.labels.values...)
			}
			// Series without labels are told apart by family (below).
			if !e.admitFamily(spec.full, spec.help, spec.kind, labelNames) || (!unlabelled && !e.newSeries(spec.full, labelValues)) {
				drop(dropConflict)
				continue
			}
			fam = p.familyOf(e, spec)
			if unlabelled {
				spec.fam = fam
			}
		}
		if unlabelled {
			// The series set for these: the family, as all of a member's
			// series carry its ensemble and server.
			if p.sentBy[fam] == int32(member)+1 {
				e.dropped++
				drop(dropConflict)
				continue
			}
			p.sentBy[fam] = int32(member) + 1
		}
		// As client_golang refuses a label value that is not UTF-8.
		if !memberValid || !validValues(m.labels) {
			e.dropped++
			drop(dropConflict)
			continue
		}
		var own *mntrLabels
		if !unlabelled {
			own = m.labels
		}
		p.families[fam].recs = append(p.families[fam].recs, passRecord{labels: own, member: int32(member), vals: m.vals, nq: m.nq})
		sent++
	}
	pm.metrics = nil // recorded: what is left is vals
	pm.pairs = []*dto.LabelPair{
		{Name: &memberLabels[0], Value: &pm.ensemble},
		{Name: &memberLabels[1], Value: &pm.server},
	}
	return drops
}

// familyOf is the index of spec's family, added as the plan reserved it
// when spec's is its first series.
func (p *passStream) familyOf(e *emitter, spec *passSpec) int32 {
	if f, ok := p.byName[spec.full]; ok {
		return f
	}
	f := int32(len(p.families))
	p.byName[spec.full] = f
	planned := e.families[spec.full]
	p.families = append(p.families, &passFamily{name: spec.full, help: spec.help, kind: spec.kind, labelNames: planned.labelNames,
		recs: make([]passRecord, 0, planned.support)})
	p.sentBy = append(p.sentBy, 0)
	return f
}

func validValues(l *mntrLabels) bool {
	if l == nil {
		return true
	}
	for _, v := range l.values {
		if !utf8.ValidString(v) {
			return false
		}
	}
	return true
}

// sortFamilies puts the families in name order, as the exposition wants.
func (p *passStream) sortFamilies() {
	slices.SortFunc(p.families, func(a, b *passFamily) int { return strings.Compare(a.name, b.name) })
	p.byName = nil
}

// builder builds one family's series. With reuse, its slabs are reused
// for the next family: what it built must be written out first.
type builder struct {
	reuse     bool
	metrics   []dto.Metric
	ptrs      []*dto.Metric
	gauges    []dto.Gauge
	counters  []dto.Counter
	summaries []dto.Summary
	counts    []uint64
	quantiles []dto.Quantile
	qptrs     []*dto.Quantile
	pairs     []dto.LabelPair
	pairPtrs  []*dto.LabelPair
}

// grab returns n zeroed elements of a slab: the slab reused when it has
// room and reuse is on, a new one otherwise (the elements handed out
// earlier must stay as they are).
func grab[T any](slab *[]T, n int, reuse bool) []T {
	if !reuse {
		return make([]T, n)
	}
	if cap(*slab) < n {
		*slab = make([]T, n)
		return *slab
	}
	*slab = (*slab)[:n]
	clear(*slab)
	return *slab
}

// family builds the series of f, sorted as a registry sorts them.
func (p *passStream) family(f *passFamily, b *builder) *dto.MetricFamily {
	n := len(f.recs)
	metrics := grab(&b.metrics, n, b.reuse)
	ptrs := grab(&b.ptrs, n, b.reuse)
	var gauges []dto.Gauge
	var counters []dto.Counter
	var summaries []dto.Summary
	var counts []uint64
	var quantiles []dto.Quantile
	var qptrs []*dto.Quantile
	switch f.kind {
	case kindGauge:
		gauges = grab(&b.gauges, n, b.reuse)
	case kindCounter:
		counters = grab(&b.counters, n, b.reuse)
	case kindSummary:
		summaries = grab(&b.summaries, n, b.reuse)
		counts = grab(&b.counts, n, b.reuse)
		nq := 0
		for _, r := range f.recs {
			nq += int(r.nq)
		}
		quantiles = grab(&b.quantiles, nq, b.reuse)
		qptrs = grab(&b.qptrs, nq, b.reuse)
	}
	var pairs []dto.LabelPair
	var pairPtrs []*dto.LabelPair
	if own := len(f.labelNames) - 2; own > 0 {
		pairs = grab(&b.pairs, own*n, b.reuse)
		pairPtrs = grab(&b.pairPtrs, len(f.labelNames)*n, b.reuse)
	}
	for i, r := range f.recs {
		pm := &p.members[r.member]
		m := &metrics[i]
		ptrs[i] = m
		if r.labels == nil {
			m.Label = pm.pairs
		} else {
			// The member's pairs and its own, sorted by name.
			ps := pairPtrs[:0:len(f.labelNames)]
			pairPtrs = pairPtrs[len(f.labelNames):]
			ps = append(ps, pm.pairs...)
			for j := range r.labels.names {
				lp := &pairs[0]
				pairs = pairs[1:]
				lp.Name, lp.Value = &r.labels.names[j], &r.labels.values[j]
				ps = append(ps, lp)
			}
			if !slices.IsSortedFunc(ps, comparePairs) {
				slices.SortFunc(ps, comparePairs)
			}
			m.Label = ps
		}
		vals := pm.vals[r.vals:]
		switch f.kind {
		case kindGauge:
			gauges[i].Value = &vals[0]
			m.Gauge = &gauges[i]
		case kindCounter:
			counters[i].Value = &vals[0]
			m.Counter = &counters[i]
		case kindSummary:
			s := &summaries[i]
			counts[i] = uint64(vals[0]) // a whole number up to 2^53 (toCount)
			s.SampleCount, s.SampleSum = &counts[i], &vals[1]
			qs := qptrs[:r.nq:r.nq]
			qptrs = qptrs[r.nq:]
			for j := range qs {
				q := &quantiles[0]
				quantiles = quantiles[1:]
				q.Quantile, q.Value = &vals[2+2*j], &vals[3+2*j]
				qs[j] = q
			}
			s.Quantile = qs
			m.Summary = s
		}
	}
	slices.SortFunc(ptrs, compareMetrics)
	return &dto.MetricFamily{Name: &f.name, Help: &f.help, Type: f.kind.dtoType(), Metric: ptrs}
}

// all yields every family that is not skipped, built as it is asked for.
func (p *passStream) all(reuse bool) iter.Seq2[*passFamily, *dto.MetricFamily] {
	return func(yield func(*passFamily, *dto.MetricFamily) bool) {
		if p == nil {
			return
		}
		b := &builder{reuse: reuse}
		for _, f := range p.families {
			if !f.exposed() {
				continue
			}
			if !yield(f, p.family(f, b)) {
				return
			}
		}
	}
}

package collector

import (
	"cmp"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// Scrape is one scrape's metrics: the exporter's own and the fixed
// families built, the passthrough compact until Families builds its
// families one at a time. At 1,000 members of 3.8 the passthrough is
// 194,000 series: built all at once, they and the mapped metrics they
// came from were most of the scrape's peak heap (docs/performance.md).
type Scrape struct {
	fixed []*dto.MetricFamily // global's and the fixed metrics', by name
	pass  *passStream
	err   error
}

// Collect is RegistryChoosing(...).Gather() without the registry's work
// per series: the same collectors, the same families in the same order
// (TestGatherMatchesRegistry), for an encoder to write family by family.
// A registry copies every series into a new dto.Metric, hashes its labels
// and checks it against the others (at 1,000 members of 3.8, 240,000
// series, a fifth of the scrape's CPU and two copies of every series in
// memory); the emitter already keeps the exposition valid (one type, help
// and label set a name, no duplicate series, valid names and UTF-8), so
// the series are taken as they were built. global's families (the
// exporter's own metrics) come first; a family of ours with one of their
// names is dropped and logged.
func Collect(results []ensemble.Result, choices []Choice, names *Names, limits Limits, logger log.Logger, global prometheus.Gatherer) *Scrape {
	return CollectPremapped(results, NewPremap(choices, names, limits), logger, global)
}

// CollectPremapped is Collect with the choices, names and limits of pre,
// whose Heard callbacks were given the polls of results: the members it
// mapped meanwhile are not mapped again.
func CollectPremapped(results []ensemble.Result, pre *Premap, logger log.Logger, global prometheus.Gatherer) *Scrape {
	choices, names, limits := pre.choices, pre.names, pre.limits
	byName := map[string]*dto.MetricFamily{}
	var errs prometheus.MultiError
	// global is gathered beside the mapping, which is CPU, while it is
	// mostly reading /proc. (Not beside the polls: process_open_fds would
	// count the poll's own connections, or not, as the timing fell.)
	var globalFams []*dto.MetricFamily
	var globalErr error
	gathered := make(chan struct{})
	go func() {
		defer close(gathered)
		if global != nil {
			globalFams, globalErr = global.Gather()
		}
	}()
	// The fixed metrics first, then the passthrough, which lets each
	// member's parsed mntr go once it is mapped: on a copy of the
	// results (other scrapes may share the poll's), and the fixed
	// metrics are done reading them.
	own := slices.Clone(results)
	for i := range own {
		own[i].Members = slices.Clone(own[i].Members)
	}
	ch := make(chan prometheus.Metric, 1024)
	var pass *passStream
	go func() {
		defer close(ch)
		Ensembles{Results: own, Limits: limits, Names: names, Logger: logger, direct: true}.Collect(ch)
		pass = Passthrough{Results: own, Choices: choices, Names: names, Limits: limits, Logger: logger, direct: true, release: true, pre: pre}.collect(ch)
	}()
	clashes := 0
	for m := range ch {
		s, ok := m.(*series)
		if !ok {
			// Only the emitter sends, and only series.
			errs = append(errs, fmt.Errorf("collector sent a %T", m))
			continue
		}
		f := byName[s.name]
		if f == nil {
			f = &dto.MetricFamily{Name: &s.name, Help: &s.help, Type: s.kind.dtoType()}
			byName[s.name] = f
		} else if f.GetHelp() != s.help || f.GetType() != *s.kind.dtoType() {
			clashes++
			continue
		}
		f.Metric = append(f.Metric, &s.m)
	}
	// global's families win: the exporter's own metrics could, in
	// theory, take one of the fixed names.
	<-gathered
	if globalErr != nil {
		errs = append(errs, globalErr)
	}
	theirs := make(map[string]bool, len(globalFams)) // sorted there
	for _, f := range globalFams {
		if ours := byName[f.GetName()]; ours != nil {
			clashes += len(ours.Metric)
		}
		byName[f.GetName()], theirs[f.GetName()] = f, true
	}
	// The passthrough never takes a fixed name (unreserve); the
	// exporter's own metrics could, in theory, take one of its names.
	for _, f := range pass.families {
		if byName[f.name] != nil {
			f.skip = true
			clashes += len(f.recs)
		}
	}
	if clashes > 0 {
		errs = append(errs, fmt.Errorf("%d series dropped: their names are taken by another family", clashes))
		if logger != nil {
			level.Debug(logger).Log("msg", "Dropped series whose names another family takes", "count", clashes)
		}
	}
	fixed := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range byName {
		if len(f.Metric) == 0 {
			continue
		}
		if !theirs[f.GetName()] {
			slices.SortFunc(f.Metric, compareMetrics)
		}
		fixed = append(fixed, f)
	}
	slices.SortFunc(fixed, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return &Scrape{fixed: fixed, pass: pass, err: errs.MaybeUnwrap()}
}

// Err is what went wrong while collecting (families dropped for a name
// another family takes, the exporter's own gatherer's errors); the
// families are still there.
func (s *Scrape) Err() error { return s.err }

// Part is one family of a scrape: a fixed family, built, or a passthrough
// family, built when asked (Build). Parts can be built on several
// goroutines at once, each with its own Builder, and written in order.
type Part struct {
	fixed *dto.MetricFamily
	pass  *passFamily
	from  *passStream
}

// Name is the family's name.
func (p Part) Name() string {
	if p.fixed != nil {
		return p.fixed.GetName()
	}
	return p.pass.name
}

// Series is how many series the family has.
func (p Part) Series() int {
	if p.fixed != nil {
		return len(p.fixed.Metric)
	}
	return len(p.pass.recs)
}

// Build returns the family. A passthrough family is built in b's memory,
// which b's next Build reuses: write the family out before that, and keep
// none of it. With a nil b the family has memory of its own.
func (p Part) Build(b *Builder) *dto.MetricFamily {
	if p.fixed != nil {
		return p.fixed
	}
	if b == nil {
		return p.from.family(p.pass, &builder{})
	}
	return p.from.family(p.pass, &b.b)
}

// Builder is the memory one goroutine builds passthrough families in
// (Part.Build), reused from one family to the next.
type Builder struct{ b builder }

// NewBuilder returns a Builder for one goroutine.
func NewBuilder() *Builder { return &Builder{builder{reuse: true}} }

// Parts returns every family of the scrape in name order, the passthrough
// ones not built yet.
func (s *Scrape) Parts() []Part {
	var pass []*passFamily
	if s.pass != nil {
		pass = s.pass.families
	}
	parts := make([]Part, 0, len(s.fixed)+len(pass))
	fixed := s.fixed
	for _, f := range pass {
		if !f.exposed() {
			continue
		}
		for len(fixed) > 0 && fixed[0].GetName() < f.name {
			parts = append(parts, Part{fixed: fixed[0]})
			fixed = fixed[1:]
		}
		parts = append(parts, Part{pass: f, from: s.pass})
	}
	for _, f := range fixed {
		parts = append(parts, Part{fixed: f})
	}
	return parts
}

// Families yields every family in name order. With reuse, a passthrough
// family is built in memory it shares with the next one: write each out
// before asking for the next (what an encoder does), and keep none.
func (s *Scrape) Families(reuse bool) iter.Seq[*dto.MetricFamily] {
	return func(yield func(*dto.MetricFamily) bool) {
		var b *Builder
		if reuse {
			b = NewBuilder()
		}
		for _, p := range s.Parts() {
			if !yield(p.Build(b)) {
				return
			}
		}
	}
}

// Gather is Collect with every family built: what a registry's Gather
// returns (tests compare the two).
func Gather(results []ensemble.Result, choices []Choice, names *Names, limits Limits, logger log.Logger, global prometheus.Gatherer) ([]*dto.MetricFamily, error) {
	s := Collect(results, choices, names, limits, logger, global)
	return slices.Collect(s.Families(false)), s.Err()
}

// compareMetrics orders the series of a family as client_golang's
// registry does (internal.MetricSorter): by label values in label-name
// order (the pairs are sorted by name). Equal label sets do not occur.
func compareMetrics(a, b *dto.Metric) int {
	if len(a.Label) != len(b.Label) {
		return cmp.Compare(len(a.Label), len(b.Label))
	}
	for i, l := range a.Label {
		if c := strings.Compare(l.GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return 0
}

// The family types, shared: a family points to one, never writes it.
var (
	gaugeType   = dto.MetricType_GAUGE
	counterType = dto.MetricType_COUNTER
	summaryType = dto.MetricType_SUMMARY
)

func (k valueKind) dtoType() *dto.MetricType {
	switch k {
	case kindCounter:
		return &counterType
	case kindSummary:
		return &summaryType
	}
	return &gaugeType
}

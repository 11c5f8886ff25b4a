package collector

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// Gather is RegistryChoosing(...).Gather() without the registry's work
// per series: the same collectors, the same families in the same order
// (TestGatherMatchesRegistry), for promhttp to encode. A registry copies
// every series into a new dto.Metric, hashes its labels and checks it
// against the others (at 1,000 members of 3.8, 240,000 series, a fifth of
// the scrape's CPU and two copies of every series in memory;
// docs/performance.md); the emitter already keeps the exposition valid
// (one type, help and label set a name, no duplicate series, valid names
// and UTF-8), so Gather takes the series as they were built. global's
// families (the exporter's own metrics) come first; a family of ours with
// one of their names is dropped and logged.
func Gather(results []ensemble.Result, choices []Choice, names *Names, limits Limits, logger log.Logger, global prometheus.Gatherer) ([]*dto.MetricFamily, error) {
	byName := map[string]*dto.MetricFamily{}
	theirs := map[string]bool{} // global's families, sorted there
	var errs prometheus.MultiError
	if global != nil {
		fams, err := global.Gather()
		if err != nil {
			errs = append(errs, err)
		}
		for _, f := range fams {
			byName[f.GetName()], theirs[f.GetName()] = f, true
		}
	}
	ch := make(chan prometheus.Metric, 1024)
	var wg sync.WaitGroup
	for _, c := range []prometheus.Collector{
		Ensembles{Results: results, Limits: limits, Names: names, Logger: logger, direct: true},
		Passthrough{Results: results, Choices: choices, Names: names, Limits: limits, Logger: logger, direct: true},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Collect(ch)
		}()
	}
	go func() { wg.Wait(); close(ch) }()
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
		} else if theirs[s.name] || f.GetHelp() != s.help || f.GetType() != *s.kind.dtoType() {
			// Ensembles and Passthrough never share a name (unreserve);
			// the exporter's own metrics could, in theory, clash.
			clashes++
			continue
		}
		f.Metric = append(f.Metric, &s.m)
	}
	if clashes > 0 {
		errs = append(errs, fmt.Errorf("%d series dropped: their names are taken by another family", clashes))
		if logger != nil {
			level.Debug(logger).Log("msg", "Dropped series whose names another family takes", "count", clashes)
		}
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range byName {
		if len(f.Metric) == 0 {
			continue
		}
		if !theirs[f.GetName()] {
			slices.SortFunc(f.Metric, compareMetrics)
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, errs.MaybeUnwrap()
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

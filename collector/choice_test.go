package collector

import (
	"bytes"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

func mustFilter(t *testing.T, include, exclude []string) KeyFilter {
	t.Helper()
	f, err := config.NewKeyFilter("passthrough.", include, exclude)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// gatherChoice gathers a 5-member 3.8 ensemble (recorded replies) under a
// choice: its families, series count and text.
func gatherChoice(t *testing.T, c Choice) (map[string]*dto.MetricFamily, int, string) {
	t.Helper()
	r := fiveMemberResult(t)
	fams, err := RegistryChoosing([]ensemble.Result{r}, []Choice{c}, NewNames(0), Limits{}, nil).Gather()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*dto.MetricFamily{}
	var buf bytes.Buffer
	series := 0
	for _, f := range fams {
		byName[f.GetName()] = f
		series += len(f.GetMetric())
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	return byName, series, buf.String()
}

// TestChoices: what each choice exposes of the same polls. The ensemble
// metrics and the curated set come whatever the choice; the passthrough
// all, none, or the keys the patterns select, a summary as one key.
func TestChoices(t *testing.T) {
	full, fullSeries, _ := gatherChoice(t, Choice{})
	fixed := map[string]bool{}
	for _, f := range fixedMetrics {
		fixed[f.name] = true
	}
	for _, tc := range []struct {
		name   string
		choice Choice
		golden string
		// want and notWant are families (beyond the fixed ones) that must
		// and must not come.
		want, notWant []string
	}{
		{name: "full", choice: Choice{}, want: []string{"zookeeper_fsynctime_seconds", "zookeeper_read_per_namespace", "zookeeper_learner_handler_qp_size"}},
		{name: "curated", choice: Choice{NoPassthrough: true}, golden: "choice_curated",
			notWant: []string{"zookeeper_fsynctime_seconds", "zookeeper_read_per_namespace", "zookeeper_global_sessions"}},
		{name: "include", choice: Choice{Keys: mustFilter(t, []string{"fsynctime", "global_sessions", ".*_learner_handler_qp_size"}, nil)}, golden: "choice_include",
			want:    []string{"zookeeper_fsynctime_seconds", "zookeeper_fsynctime_seconds_max", "zookeeper_global_sessions", "zookeeper_learner_handler_qp_size"},
			notWant: []string{"zookeeper_read_per_namespace", "zookeeper_local_sessions"}},
		{name: "include anchored", choice: Choice{Keys: mustFilter(t, []string{"sync"}, nil)},
			notWant: []string{"zookeeper_fsynctime_seconds", "zookeeper_sync_processor_queue_size"}},
		{name: "exclude", choice: Choice{Keys: mustFilter(t, nil, []string{".*_per_namespace", ".*learner_handler.*"})},
			want:    []string{"zookeeper_fsynctime_seconds", "zookeeper_global_sessions"},
			notWant: []string{"zookeeper_read_per_namespace", "zookeeper_write_per_namespace", "zookeeper_learner_handler_qp_size"}},
		{name: "include and exclude", choice: Choice{Keys: mustFilter(t, []string{".*sessions.*"}, []string{"local.*"})},
			want: []string{"zookeeper_global_sessions"}, notWant: []string{"zookeeper_local_sessions", "zookeeper_fsynctime_seconds"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fams, series, text := gatherChoice(t, tc.choice)
			for _, name := range tc.want {
				if fams[name] == nil {
					t.Errorf("%s absent", name)
				}
			}
			for _, name := range tc.notWant {
				if fams[name] != nil {
					t.Errorf("%s present", name)
				}
			}
			// The fixed metrics are the same whatever the choice.
			for name, f := range full {
				if fixed[name] && (fams[name] == nil || len(fams[name].GetMetric()) != len(f.GetMetric())) {
					t.Errorf("%s: the fixed metric changed with the choice", name)
				}
			}
			if tc.name != "full" && series >= fullSeries {
				t.Errorf("%d series, not fewer than the full passthrough's %d", series, fullSeries)
			}
			if tc.name == "curated" {
				for name := range fams {
					if !fixed[name] {
						t.Errorf("%s: not a fixed metric", name)
					}
				}
			}
			t.Logf("%s: %d series (full passthrough %d)", tc.name, series, fullSeries)
			if tc.golden != "" {
				compareGolden(t, tc.golden, normaliseChoice(t, text))
			}
		})
	}
}

// normaliseChoice drops the timings, which differ from run to run.
func normaliseChoice(t *testing.T, text string) string {
	t.Helper()
	return normalise(t, []byte(text), nil)
}

// TestChoiceFilterRemembers: the answers are remembered up to a bound,
// and a key beyond it is still answered right.
func TestChoiceFilterRemembers(t *testing.T) {
	f, err := config.NewKeyFilter("passthrough.", []string{"a.*"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10000; i++ {
		key := "a" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + strings.Repeat("y", i/50)
		if !f.Keep(key) {
			t.Fatalf("%s dropped", key)
		}
		if f.Keep("b" + key) {
			t.Fatalf("b%s kept", key)
		}
	}
}

// TestPassthroughPerMemberSeries: the passthrough's duplicate check is per
// member. Two ensembles polling the same servers keep all their series
// (the ensemble label tells them apart), with no error from the registry.
// (A member cannot be listed twice in an ensemble: config refuses it.)
func TestPassthroughPerMemberSeries(t *testing.T) {
	one := fiveMemberResult(t)
	count := func(results []ensemble.Result) int {
		t.Helper()
		fams, err := Registry(results, NewNames(0), Limits{}, nil).Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		n := 0
		for _, f := range fams {
			if f.GetName() == "zookeeper_fsynctime_seconds" {
				n += len(f.GetMetric())
			}
		}
		return n
	}
	single := count([]ensemble.Result{one})
	other := one
	other.Target.Name = one.Target.Name + "-again"
	for _, tc := range []struct {
		name    string
		results []ensemble.Result
		want    int
	}{
		{"one ensemble", []ensemble.Result{one}, 5},
		{"the same servers in two ensembles", []ensemble.Result{one, other}, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := count(tc.results); got != tc.want || single != 5 {
				t.Errorf("%d fsynctime summaries (one ensemble: %d), want %d", got, single, tc.want)
			}
		})
	}
}

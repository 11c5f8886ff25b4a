package collector

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// TestFixedMetricsDescribed: every fixed metric a healthy 3.8 ensemble
// gives is one Describe lists, so a pedantic registry accepts the scrape
// (it fails a metric whose descriptor was not described) and the linter
// sees every family.
func TestFixedMetricsDescribed(t *testing.T) {
	r := fiveMemberResult(t)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(Ensembles{Results: []ensemble.Result{r}})
	fams, err := reg.Gather()
	if err != nil {
		t.Fatalf("pedantic registry: %v", err)
	}
	described := map[string]bool{}
	for _, f := range fixedMetrics {
		described[f.name] = true
	}
	if len(fams) < 30 {
		t.Errorf("%d fixed families from a healthy 5-member ensemble: too few to believe", len(fams))
	}
	for _, f := range fams {
		if !described[f.GetName()] {
			t.Errorf("%s collected but not described", f.GetName())
		}
	}
	problems, err := testutil.CollectAndLint(Ensembles{Results: []ensemble.Result{r}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

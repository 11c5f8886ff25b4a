package collector

import (
	"bytes"
	"math"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeResult is a parsed exposition, optionally narrowed to one member.
type scrapeResult struct {
	families map[string]*dto.MetricFamily
	server   string
}

func parseScrape(t *testing.T, body []byte) scrapeResult {
	t.Helper()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	return scrapeResult{families: fams}
}

func (s scrapeResult) member(server string) scrapeResult { return scrapeResult{s.families, server} }

func (s scrapeResult) find(name string) (*dto.Metric, bool) {
	fam, ok := s.families[name]
	if !ok {
		return nil, false
	}
	for _, m := range fam.Metric {
		if s.server == "" {
			return m, true
		}
		for _, l := range m.Label {
			if l.GetName() == "server" && l.GetValue() == s.server {
				return m, true
			}
		}
	}
	return nil, false
}

func (s scrapeResult) has(name string) bool { _, ok := s.find(name); return ok }

func (s scrapeResult) value(name string) float64 {
	m, ok := s.find(name)
	switch {
	case !ok:
		return math.NaN()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Summary != nil:
		return float64(m.Summary.GetSampleCount())
	}
	return math.NaN()
}

func (s scrapeResult) expect(t *testing.T, name string, want float64) {
	t.Helper()
	if got := s.value(name); got != want {
		t.Errorf("%s{server=%q} = %v, want %v", name, s.server, got, want)
	}
}

package collector

import (
	"bytes"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.uber.org/goleak"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

func TestMain(m *testing.M) {
	// Every poll, shared flight and fake connection must be gone when the
	// tests end: a leak here is a leak per scrape in production.
	if dir := os.Getenv("FUZZ_EXEC_COUNT_DIR"); dir != "" {
		code := m.Run()
		if n := fuzzExecs.Load(); n > 0 {
			os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), []byte(strconv.FormatInt(n, 10)), 0o644)
		}
		os.Exit(code)
	}
	goleak.VerifyTestMain(m)
}

// testHandler scrapes configured ensembles the way the exporter's /metrics
// does (poll every ensemble, map, expose), without the HTTP layer's
// extras: what the collector tests need of a whole scrape.
type testHandler struct {
	cfg    *config.Config
	Poller *ensemble.Poller
	names  *Names
}

func newHandler(cfg *config.Config) *testHandler {
	return &testHandler{cfg: cfg, Poller: ensemble.NewPoller(log.NewNopLogger(), ensemble.DefaultMaxConcurrency), names: NewNames(0)}
}

func (h *testHandler) ServeMetrics(w http.ResponseWriter, r *http.Request) {
	results := make([]ensemble.Result, len(h.cfg.Ensembles))
	done := make(chan struct{})
	for i, e := range h.cfg.Ensembles {
		go func() {
			results[i] = h.Poller.Poll(r.Context(), ensemble.TargetOf(e))
			done <- struct{}{}
		}()
	}
	for range h.cfg.Ensembles {
		<-done
	}
	promhttp.HandlerFor(Registry(results, h.names, Limits{}, log.NewNopLogger()), promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}).ServeHTTP(w, r)
}

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

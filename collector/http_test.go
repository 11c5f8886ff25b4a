package collector

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"go.uber.org/goleak"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

func newHandler(cfg *config.Config, allowAny bool) *Handler {
	return &Handler{Source: config.NewStatic(cfg, log.NewNopLogger()), Scraper: NewScraper(log.NewNopLogger(), DefaultMaxConcurrency),
		Logger: log.NewNopLogger(), Defaults: config.Defaults{Timeout: time.Second}, AllowAnyTarget: allowAny}
}

func TestProbe(t *testing.T) {
	configured := fakezk.New(t)
	configured.Set("srvr", []byte("Mode: standalone\nZxid: 0x5\n"), fakezk.Answer)
	stranger := fakezk.New(t)
	stranger.Set("srvr", []byte("Mode: standalone\nZxid: 0x5\n"), fakezk.Answer)
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "prod", Servers: []config.Member{{Address: configured.Addr()}}, Timeout: config.Duration(time.Second)}}}

	for _, tc := range []struct {
		name     string
		allowAny bool
		query    string
		code     int
		body     string
	}{
		{name: "no target", query: "", code: 400, body: "target parameter is missing"},
		{name: "configured name", query: "target=prod", code: 200, body: `zookeeper_up{ensemble="prod",server="` + configured.Addr() + `"} 1`},
		{name: "configured member", query: "target=" + configured.Addr(), code: 200, body: `zookeeper_up{ensemble="prod",server="` + configured.Addr() + `"}`},
		{name: "unconfigured member", query: "target=" + stranger.Addr(), code: 400, body: "not a configured member"},
		{name: "one of two unconfigured", query: "target=" + configured.Addr() + "," + stranger.Addr(), code: 400, body: "not a configured member"},
		{name: "bad syntax", query: "target=a:b:c:d", code: 400, body: "neither a configured ensemble"},
		{name: "allowed any", allowAny: true, query: "target=" + stranger.Addr(), code: 200, body: `zookeeper_serving{ensemble="` + probeName([]config.Member{{Address: stranger.Addr()}}, nil) + `",server="` + stranger.Addr() + `"} 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := stranger.Connections()
			rec := httptest.NewRecorder()
			newHandler(cfg, tc.allowAny).ServeProbe(rec, httptest.NewRequest(http.MethodGet, "/probe?"+tc.query, nil))
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("got %d %q, want %d containing %q", rec.Code, truncateText(rec.Body.String()), tc.code, tc.body)
			}
			if tc.code == 400 && stranger.Connections() != before {
				t.Errorf("a refused probe dialled the target")
			}
			if tc.code == 200 && strings.Contains(rec.Body.String(), "go_goroutines") {
				t.Errorf("/probe carries the exporter's own metrics")
			}
		})
	}
}

func truncateText(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

func TestScrapeTimeoutHeader(t *testing.T) {
	srv := fakezk.New(t)
	srv.Set("srvr", nil, fakezk.Stall)
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "e", Servers: []config.Member{{Address: srv.Addr()}}, Timeout: config.Duration(10 * time.Second)}}}
	h := newHandler(cfg, false)
	h.TimeoutOffset = 500 * time.Millisecond
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1")
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeMetrics(rec, req)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a 1s scrape timeout (less 0.5s offset) still took %v", took)
	}
	if !strings.Contains(rec.Body.String(), `zookeeper_up{ensemble="e",server="`+srv.Addr()+`"} 0`) {
		t.Errorf("hung member not reported down: %s", truncateText(rec.Body.String()))
	}
}

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

func TestGzip(t *testing.T) {
	srv := fakezk.New(t)
	srv.Set("srvr", []byte("Mode: standalone\nZxid: 0x5\n"), fakezk.Answer)
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "e", Servers: []config.Member{{Address: srv.Addr()}}, Timeout: config.Duration(time.Second)}}}
	h := newHandler(cfg, false)
	for _, enc := range []string{"gzip", "gzip, deflate, br", "identity", "", "gzip;q=0"} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept-Encoding", enc)
		rec := httptest.NewRecorder()
		h.ServeMetrics(rec, req)
		body := rec.Body.Bytes()
		wantGzip := strings.HasPrefix(enc, "gzip") && enc != "gzip;q=0"
		if got := rec.Header().Get("Content-Encoding") == "gzip"; got != wantGzip {
			t.Errorf("Accept-Encoding %q: gzip %v", enc, got)
		}
		if wantGzip {
			z, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			body, err = io.ReadAll(z)
			if err != nil {
				t.Fatal(err)
			}
		}
		if !strings.Contains(string(body), `zookeeper_up{ensemble="e",server="`+srv.Addr()+`"} 1`) {
			t.Errorf("Accept-Encoding %q: body %q", enc, truncateText(string(body)))
		}
	}
}

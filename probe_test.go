package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/zookeeper-exporter/zookeeper_exporter/collector"
	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

func newHandler(t testing.TB, cfg *config.Config, allowAny bool) *Handler {
	if err := cfg.SetDefaults(config.Defaults{Timeout: time.Second}); err != nil {
		t.Fatal(err)
	}
	return &Handler{Source: config.NewStatic(cfg, log.NewNopLogger()), Poller: ensemble.NewPoller(log.NewNopLogger(), ensemble.DefaultMaxConcurrency),
		Names: collector.NewNames(0), Logger: log.NewNopLogger(), AllowAnyTarget: allowAny}
}

func TestProbe(t *testing.T) {
	configured := fakezk.New(t)
	configured.Set("srvr", []byte("Zookeeper version: 3.8.0\nMode: standalone\nZxid: 0x5\n"), fakezk.Answer)
	stranger := fakezk.New(t)
	stranger.Set("srvr", []byte("Zookeeper version: 3.8.0\nMode: standalone\nZxid: 0x5\n"), fakezk.Answer)
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
		{name: "allowed any", allowAny: true, query: "target=" + stranger.Addr(), code: 200, body: `zookeeper_serving{ensemble="` + probeLabel(t, stranger.Addr()) + `",server="` + stranger.Addr() + `"} 1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := stranger.Connections()
			rec := httptest.NewRecorder()
			newHandler(t, cfg, tc.allowAny).ServeProbe(rec, httptest.NewRequest(http.MethodGet, "/probe?"+tc.query, nil))
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
	h := newHandler(t, cfg, false)
	h.TimeoutOffset = 500 * time.Millisecond
	req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "1")
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeMetrics(rec, req)
	// The member deadline is 10s: a scrape bounded by the header's 0.5s
	// ends long before it, however busy the machine.
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("a 1s scrape timeout (less 0.5s offset) still took %v", took)
	}
	if !strings.Contains(rec.Body.String(), `zookeeper_up{ensemble="e",server="`+srv.Addr()+`"} 0`) {
		t.Errorf("hung member not reported down: %s", truncateText(rec.Body.String()))
	}
}

func TestGzip(t *testing.T) {
	srv := fakezk.New(t)
	srv.Set("srvr", []byte("Zookeeper version: 3.8.0\nMode: standalone\nZxid: 0x5\n"), fakezk.Answer)
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "e", Servers: []config.Member{{Address: srv.Addr()}}, Timeout: config.Duration(time.Second)}}}
	h := newHandler(t, cfg, false)
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

// probeLabel is the ensemble label of an ad-hoc /probe list.
func probeLabel(t *testing.T, addrs ...string) string {
	t.Helper()
	var members []config.Member
	for _, a := range addrs {
		members = append(members, config.Member{Address: a})
	}
	e, _ := (&config.Config{}).AdHoc(members)
	if !strings.HasPrefix(e.Name, "probe-") || len(e.Name) != len("probe-")+8 {
		t.Errorf("ad-hoc label %q: want probe- and 8 hex digits", e.Name)
	}
	return e.Name
}

// TestProbeAdHocTLS: an ad-hoc /probe list takes the flags' TLS, built at
// load. A CA file that cannot be read is an error then, never a plain-TCP
// poll at a scrape; a member that does not speak TLS is down with reason
// tls, never `up 1` over plain TCP.
func TestProbeAdHocTLS(t *testing.T) {
	plain := fakezk.New(t)
	plain.Set("srvr", []byte("Zookeeper version: 3.8.0\nMode: standalone\nZxid: 0x5\n"), fakezk.Answer)

	_, err := config.FromFlags("e", "zk1:2181", config.Defaults{Timeout: time.Second, TLS: &config.TLS{CAFile: filepath.Join(t.TempDir(), "missing-ca.pem")}})
	if err == nil || !strings.Contains(err.Error(), "ca") {
		t.Errorf("unreadable CA file: err = %v, want a load error naming it", err)
	}

	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "prod", Servers: []config.Member{{Address: "127.0.0.1:1"}}}}}
	if err := cfg.SetDefaults(config.Defaults{Timeout: time.Second, TLS: &config.TLS{InsecureSkipVerify: true}}); err != nil {
		t.Fatal(err)
	}
	h := &Handler{Source: config.NewStatic(cfg, log.NewNopLogger()), Poller: ensemble.NewPoller(log.NewNopLogger(), 0),
		Names: collector.NewNames(0), Logger: log.NewNopLogger(), AllowAnyTarget: true}
	rec := httptest.NewRecorder()
	h.ServeProbe(rec, httptest.NewRequest(http.MethodGet, "/probe?target="+plain.Addr(), nil))
	body := rec.Body.String()
	server := `server="` + plain.Addr() + `"`
	if !strings.Contains(body, "zookeeper_up{ensemble=\""+probeLabel(t, plain.Addr())+"\","+server+"} 0") ||
		!strings.Contains(body, `zookeeper_member_down_reason{ensemble="`+probeLabel(t, plain.Addr())+`",reason="tls",`+server+`} 1`) {
		t.Errorf("a plain-TCP member probed with TLS defaults: want up 0 with reason tls, got %d\n%s", rec.Code, truncateText(body))
	}
}

// The exposition as promhttp negotiated it: text by default, protobuf when
// asked, name[] keeps only the families named; a client that goes away
// mid-answer ends the request (the compressor's goroutine too).
func TestExpositionFormats(t *testing.T) {
	srv := fakezk.New(t)
	srv.Set("srvr", []byte("Zookeeper version: 3.8.0\nMode: standalone\nZxid: 0x5\n"), fakezk.Answer)
	srv.Set("mntr", []byte("zk_version\t3.8.0\nzk_server_state\tstandalone\nzk_avg_latency\t1\nzk_znode_count\t7\nzk_fsynctime{quantile=\"0.5\"}\t1\nzk_fsynctime_count\t2\nzk_fsynctime_sum\t3\n"), fakezk.Answer)
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "e", Servers: []config.Member{{Address: srv.Addr()}}, Timeout: config.Duration(time.Second)}}}
	h := newHandler(t, cfg, false)
	global := prometheus.NewRegistry()
	global.MustRegister(collectors.NewGoCollector())
	h.Global = global
	get := func(target, accept, encoding string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		req.Header.Set("Accept", accept)
		req.Header.Set("Accept-Encoding", encoding)
		rec := httptest.NewRecorder()
		h.ServeMetrics(rec, req)
		return rec
	}
	families := func(rec *httptest.ResponseRecorder) map[string]*dto.MetricFamily {
		t.Helper()
		var r io.Reader = rec.Body
		if rec.Header().Get("Content-Encoding") == "gzip" {
			z, err := gzip.NewReader(r)
			if err != nil {
				t.Fatal(err)
			}
			r = z
		}
		dec := expfmt.NewDecoder(r, expfmt.ResponseFormat(rec.Header()))
		out := map[string]*dto.MetricFamily{}
		for {
			var f dto.MetricFamily
			if err := dec.Decode(&f); err == io.EOF {
				return out
			} else if err != nil {
				t.Fatalf("%s: %v", rec.Header().Get("Content-Type"), err)
			}
			out[f.GetName()] = &f
		}
	}
	proto := `application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited`
	for _, tc := range []struct{ accept, encoding, format string }{
		{"", "", "text/plain"}, {"", "gzip", "text/plain"}, {proto, "gzip", "application/vnd.google.protobuf"}, {proto, "", "application/vnd.google.protobuf"},
	} {
		rec := get("/metrics", tc.accept, tc.encoding)
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.format) {
			t.Errorf("Accept %q: Content-Type %q, want %s", tc.accept, ct, tc.format)
		}
		fams := families(rec)
		for _, name := range []string{"zookeeper_up", "zookeeper_fsynctime_seconds", "go_goroutines", "zookeeper_znodes"} {
			if fams[name] == nil {
				t.Errorf("Accept %q, Accept-Encoding %q: no %s among %d families", tc.accept, tc.encoding, name, len(fams))
			}
		}
		if s := fams["zookeeper_fsynctime_seconds"].GetMetric(); len(s) != 1 || s[0].GetSummary().GetSampleCount() != 2 {
			t.Errorf("Accept %q: fsynctime %v", tc.accept, s)
		}
	}
	fams := families(get("/metrics?name[]=zookeeper_up&name[]=zookeeper_fsynctime_seconds", "", "gzip"))
	if len(fams) != 2 || fams["zookeeper_up"] == nil || fams["zookeeper_fsynctime_seconds"] == nil {
		t.Errorf("name[] zookeeper_up and zookeeper_fsynctime_seconds: %d families", len(fams))
	}
	for _, encoding := range []string{"gzip", ""} {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept-Encoding", encoding)
		w := &failingWriter{ResponseRecorder: httptest.NewRecorder(), after: 100}
		done := make(chan struct{})
		go func() { defer close(done); h.ServeMetrics(w, req) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatalf("Accept-Encoding %q: a client gone after 100 bytes: the scrape still writes after 30s", encoding)
		}
	}
}

// failingWriter fails every write after its first bytes: a client gone.
type failingWriter struct {
	*httptest.ResponseRecorder
	after int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if f.after <= 0 {
		return 0, io.ErrClosedPipe
	}
	f.after -= len(p)
	return f.ResponseRecorder.Write(p)
}

package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

// TestRequestChoice: what a scrape exposes, chosen per ensemble in the
// configuration and per request (collect[], passthrough.include and
// passthrough.exclude), on /metrics and /probe; bad parameters are 400
// and poll nothing.
func TestRequestChoice(t *testing.T) {
	leader := fixtureReplies(t, "3.8.0/healthy/leader")
	full, curated, selected := fakezk.New(t), fakezk.New(t), fakezk.New(t)
	full.SetAll(leader, fakezk.Answer)
	curated.SetAll(leader, fakezk.Answer)
	selected.SetAll(leader, fakezk.Answer)
	off := false
	some := &config.Passthrough{Include: []string{"fsynctime"}}
	if err := some.Compile(); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Config{Ensembles: []config.Ensemble{
		{Name: "full", Servers: []config.Member{{Address: full.Addr()}}, Timeout: config.Duration(time.Second)},
		{Name: "curated", Servers: []config.Member{{Address: curated.Addr()}}, Timeout: config.Duration(time.Second), Passthrough: &config.Passthrough{Enabled: &off}},
		{Name: "some", Servers: []config.Member{{Address: selected.Addr()}}, Timeout: config.Duration(time.Second), Passthrough: some},
	}}
	h := newHandler(t, cfg, false)
	const (
		up     = `zookeeper_up{ensemble="%s"`
		znodes = `zookeeper_znodes{ensemble="%s"`
		fsync  = `zookeeper_fsynctime_seconds_count{ensemble="%s"`
		global = `zookeeper_global_sessions{ensemble="%s"`
	)
	has := func(pattern, ensemble string) string { return strings.Replace(pattern, "%s", ensemble, 1) }
	for _, tc := range []struct {
		name, url string
		code      int
		want, not []string
		body      string
	}{
		{name: "configured choices", url: "/metrics", code: 200,
			want: []string{has(up, "full"), has(fsync, "full"), has(global, "full"), has(up, "curated"), has(znodes, "curated"),
				has(znodes, "some"), has(fsync, "some")},
			not: []string{has(fsync, "curated"), has(global, "curated"), has(global, "some")}},
		{name: "request replaces configured include", url: "/metrics?passthrough.include=global_sessions", code: 200,
			want: []string{has(global, "some"), has(global, "curated")}, not: []string{has(fsync, "some")}},
		{name: "probe configured include", url: "/probe?target=some", code: 200,
			want: []string{has(fsync, "some"), has(znodes, "some")}, not: []string{has(global, "some")}},
		{name: "curated for all", url: "/metrics?collect[]=curated", code: 200,
			want: []string{has(up, "full"), has(znodes, "full"), has(znodes, "curated")},
			not:  []string{has(fsync, "full"), has(fsync, "curated")}},
		{name: "passthrough for all", url: "/metrics?collect[]=passthrough", code: 200,
			want: []string{has(fsync, "full"), has(fsync, "curated"), has(global, "curated")}},
		{name: "include", url: "/metrics?passthrough.include=fsynctime", code: 200,
			want: []string{has(fsync, "full"), has(fsync, "curated"), has(znodes, "full")},
			not:  []string{has(global, "full"), has(global, "curated")}},
		{name: "exclude", url: "/metrics?collect[]=curated&collect[]=passthrough&passthrough.exclude=fsync.*&passthrough.exclude=local_.*", code: 200,
			want: []string{has(global, "full")}, not: []string{has(fsync, "full")}},
		{name: "probe configured choice", url: "/probe?target=curated", code: 200,
			want: []string{has(up, "curated"), has(znodes, "curated")}, not: []string{has(fsync, "curated")}},
		{name: "probe asks passthrough", url: "/probe?target=curated&collect[]=passthrough", code: 200,
			want: []string{has(fsync, "curated")}},
		{name: "probe asks curated", url: "/probe?target=" + full.Addr() + "&collect[]=curated", code: 200,
			want: []string{has(znodes, "full")}, not: []string{has(fsync, "full")}},
		{name: "probe include", url: "/probe?target=full&passthrough.include=global_.*", code: 200,
			want: []string{has(global, "full")}, not: []string{has(fsync, "full")}},
		{name: "bad collect", url: "/metrics?collect[]=everything", code: 400, body: `collect[]="everything": want curated or passthrough`},
		{name: "bad pattern", url: "/metrics?passthrough.include=%5B", code: 400, body: `passthrough.include[0] "[": error parsing regexp`},
		{name: "bad exclude on probe", url: "/probe?target=full&passthrough.exclude=a&passthrough.exclude=(", code: 400, body: `passthrough.exclude[1] "("`},
		{name: "patterns without passthrough", url: "/probe?target=full&collect[]=curated&passthrough.include=x", code: 400, body: "add collect[]=passthrough"},
		{name: "too long", url: "/metrics?passthrough.include=" + strings.Repeat("a", 600), code: 400, body: "longer than 512"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := full.Connections()
			rec := httptest.NewRecorder()
			req := httptest.NewRequest(http.MethodGet, tc.url, nil)
			if strings.HasPrefix(tc.url, "/probe") {
				h.ServeProbe(rec, req)
			} else {
				h.ServeMetrics(rec, req)
			}
			body := rec.Body.String()
			if rec.Code != tc.code || !strings.Contains(body, tc.body) {
				t.Fatalf("got %d %q, want %d containing %q", rec.Code, truncateText(body), tc.code, tc.body)
			}
			if tc.code == 400 && full.Connections() != before {
				t.Error("a refused request polled a member")
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("no %s}", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(body, n) {
					t.Errorf("%s} present", n)
				}
			}
		})
	}
}

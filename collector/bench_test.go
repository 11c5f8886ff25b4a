package collector

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

// fiveMemberResult is a poll of a 3.8 ensemble from recorded replies: the
// leader, three followers and an observer.
func fiveMemberResult(b *testing.B) Result {
	p := Poller{Logger: log.NewNopLogger()}
	var snaps []ensemble.MemberSnapshot
	for i, role := range []string{"leader", "follower", "follower", "follower", "observer"} {
		s := ensemble.MemberSnapshot{Member: config.Member{Address: "10.0.0." + string(rune('1'+i)) + ":2181", Observer: role == "observer"},
			State: ensemble.StateUnknown, Allowed: map[string]bool{}}
		for _, cmd := range Commands {
			body, err := os.ReadFile("../fourletter/testdata/3.8.0/healthy/" + role + "-" + cmd + ".txt")
			if err != nil {
				b.Fatal(err)
			}
			if p.parse(&s, cmd, body) {
				s.Up, s.Allowed[cmd] = true, true
			}
		}
		finishState(&s, false)
		snaps = append(snaps, s)
	}
	return NewResult(Target{Name: "bench"}, snaps, nil, time.Millisecond)
}

// BenchmarkExposition5Members: from parsed replies to the text exposition
// of a 5-member ensemble (emit, gather, encode), as in every scrape.
func BenchmarkExposition5Members(b *testing.B) {
	r := fiveMemberResult(b)
	reg := prometheus.NewRegistry()
	reg.MustRegister(resultCollector{[]Result{r}})
	b.ReportAllocs()
	var size int
	for b.Loop() {
		fams, err := reg.Gather()
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, f := range fams {
			if err := enc.Encode(f); err != nil {
				b.Fatal(err)
			}
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

// BenchmarkParseAndExpose5Members adds the parsing of the 15 replies.
func BenchmarkParseAndExpose5Members(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		r := fiveMemberResult(b)
		reg := prometheus.NewRegistry()
		reg.MustRegister(resultCollector{[]Result{r}})
		fams, _ := reg.Gather()
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, f := range fams {
			enc.Encode(f)
		}
	}
}

// BenchmarkScrapeHandler4Members: a whole scrape through the HTTP handler
// (gzip, as Prometheus asks) of a 4-member 3.8 ensemble replayed by fake
// servers on loopback: polling, parsing, exposition, compression.
func BenchmarkScrapeHandler4Members(b *testing.B) {
	var members []config.Member
	for i, role := range []string{"leader", "follower", "follower", "observer"} {
		srv := fakezk.New(b)
		for _, cmd := range Commands {
			body, _ := os.ReadFile("../fourletter/testdata/3.8.0/healthy/" + role + "-" + cmd + ".txt")
			srv.Set(cmd, body, fakezk.Answer)
		}
		members = append(members, config.Member{Address: srv.Addr(), Observer: i == 3})
	}
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "bench", Servers: members, Timeout: config.Duration(2 * time.Second)}}}
	h := &Handler{Source: config.NewStatic(cfg, log.NewNopLogger()), Scraper: NewScraper(log.NewNopLogger(), DefaultMaxConcurrency), Logger: log.NewNopLogger()}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeMetrics(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

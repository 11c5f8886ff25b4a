package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

// TestProbeBounds: a /probe target is one ensemble; a long or crowded one
// is refused without dialling anything and without being echoed.
func TestProbeBounds(t *testing.T) {
	srv := fakezk.New(t)
	srv.Set("srvr", []byte("Zookeeper version: 3.8.0\nMode: standalone\nZxid: 0x5\n"), fakezk.Answer)
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "prod", Servers: []config.Member{{Address: srv.Addr()}}}}}
	var many []string
	for i := range 65 {
		many = append(many, "10.0.0."+itoa(i)+":2181")
	}
	huge := strings.Repeat("a", 1<<20)
	for _, tc := range []struct{ name, target, want string }{
		{"1 MB target", huge, "longer than"},
		{"1 MB member in a list", huge[:3000] + ":2181," + srv.Addr(), "longer than"},
		{"65 members", strings.Join(many, ","), "65 members, more than 64"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			newHandler(t, cfg, true).ServeProbe(rec, httptest.NewRequest(http.MethodGet, "/probe?target="+tc.target, nil))
			if rec.Code != 400 || !strings.Contains(rec.Body.String(), tc.want) {
				t.Errorf("got %d %q, want 400 with %q", rec.Code, truncateText(rec.Body.String()), tc.want)
			}
			if rec.Body.Len() > 300 {
				t.Errorf("answer of %d bytes: the target is echoed", rec.Body.Len())
			}
			if srv.Connections() != 0 {
				t.Errorf("a refused probe dialled a member")
			}
		})
	}
}

// TestLimitRequests: past --web.max-requests, a scrape is answered 503 at
// once instead of queueing.
func TestLimitRequests(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 2)
	h := limitRequests(1)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started <- struct{}{}
		<-release
	}))
	first := make(chan int)
	go func() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		first <- rec.Code
	}()
	<-started
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "--web.max-requests=1") {
		t.Errorf("second scrape while one runs: %d %q, want 503", rec.Code, rec.Body.String())
	}
	close(release)
	if code := <-first; code != 200 {
		t.Errorf("first scrape: %d", code)
	}
	// The slot is free again.
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Errorf("scrape after the first ended: %d", rec.Code)
	}
}

// TestPromLoggerOnce: what promhttp reports is logged once per request,
// as text (a []any in logfmt is "unsupported value type").
func TestPromLoggerOnce(t *testing.T) {
	var buf bytes.Buffer
	l := newPromLogger(log.NewLogfmtLogger(log.NewSyncWriter(&buf)))
	for range 250 {
		l.Println("error encoding and sending metric family:", errors.New("write: broken pipe"))
	}
	out := buf.String()
	if n := strings.Count(out, "\n"); n != 1 {
		t.Errorf("%d lines logged for one request, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "broken pipe") || strings.Contains(out, "unsupported value type") {
		t.Errorf("log line does not carry the error: %s", out)
	}
}

// TestServerBoundsAndLifecycle: a client that sends its headers slowly is
// cut off; /-/reload is not served without --web.enable-lifecycle.
func TestServerBoundsAndLifecycle(t *testing.T) {
	x := startExporter(t, "--zookeeper.servers=127.0.0.1:1")
	resp, err := http.Post(x.base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Errorf("POST /-/reload answered 200 without --web.enable-lifecycle")
	}

	c, err := net.Dial("tcp", strings.TrimPrefix(x.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	// The headers never end: the server must close the connection (after
	// its 5 s header timeout; a minute is a hang).
	c.SetReadDeadline(time.Now().Add(time.Minute))
	start := time.Now()
	_, err = bufio.NewReader(c).ReadString('\n')
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("a connection with unfinished headers stayed open for a minute")
	}
	t.Logf("unfinished headers: connection closed after %v (%v)", time.Since(start).Round(time.Second), err)
}

// TestCrowdOfTimeouts: hundreds of concurrent scrapes, each with its own
// X-Prometheus-Scrape-Timeout-Seconds, against 5 members of which 2 hang:
// they share polls, so the healthy members are asked a few rounds of words,
// not one per request, and an ordinary scrape meanwhile still sees them up
// and the quorum the replies prove.
func TestCrowdOfTimeouts(t *testing.T) {
	var members []config.Member
	var healthy []*fakezk.Server
	for _, role := range []string{"leader", "follower", "observer"} {
		srv := fakezk.New(t)
		srv.SetAll(fixtureReplies(t, "3.8.0/healthy/"+role), fakezk.Answer)
		healthy = append(healthy, srv)
		members = append(members, config.Member{Address: srv.Addr(), Observer: role == "observer"})
	}
	for range 2 {
		srv := fakezk.New(t)
		for _, w := range []string{"srvr", "mntr", "conf", "ruok"} {
			srv.Set(w, nil, fakezk.Stall)
		}
		members = append(members, config.Member{Address: srv.Addr()})
	}
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "crowd", Servers: members, Timeout: config.Duration(2 * time.Second)}}}
	var logs syncBuffer
	h := newHandler(t, cfg, false)
	h.Logger = log.NewLogfmtLogger(log.NewSyncWriter(&logs))
	h.Poller = ensemble.NewPoller(h.Logger, 64) // few slots: a crowd of separate polls would starve

	ordinary := func() scrape {
		rec := httptest.NewRecorder()
		h.ServeMetrics(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		return parseText(t, rec.Body.String())
	}
	check := func(when string, s scrape) {
		t.Helper()
		for _, srv := range healthy {
			if v, _ := s.value("zookeeper_up", "server="+srv.Addr()); v != 1 {
				t.Errorf("%s: healthy member %s up %v", when, srv.Addr(), v)
			}
		}
		if v, _ := s.value("zookeeper_ensemble_quorum", ""); v != 1 {
			t.Errorf("%s: quorum %v, want 1", when, v)
		}
	}
	check("alone", ordinary())
	before := healthy[0].Count("srvr")

	const crowd = 250
	var wg sync.WaitGroup
	for i := range crowd {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(0.7+float64(i)*0.01, 'f', 2, 64))
			h.ServeMetrics(httptest.NewRecorder(), req)
		}()
	}
	check("amid the crowd", ordinary())
	wg.Wait()
	rounds := healthy[0].Count("srvr") - before
	if rounds > 10 {
		t.Errorf("the leader was asked srvr %d times for %d scrapes: polls are not shared", rounds, crowd+1)
	}
	if n := strings.Count(logs.String(), "no free poll slot"); n > 0 {
		t.Errorf("%d scrapes logged a shortage of poll slots", n)
	}
	t.Logf("%d scrapes with distinct timeouts and one ordinary: the leader was asked srvr %d times", crowd, rounds)
}

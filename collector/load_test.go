package collector

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

func fakeEnsemble(t *testing.T, name string, n int, delay time.Duration, tr *fakezk.Tracker) (config.Ensemble, []*fakezk.Server) {
	return fakeEnsembleWith(t, name, n, delay, tr, healthyReplies(t))
}

func fakeEnsembleWith(t *testing.T, name string, n int, delay time.Duration, tr *fakezk.Tracker, replies map[string][]byte) (config.Ensemble, []*fakezk.Server) {
	var servers []*fakezk.Server
	var members []config.Member
	for i := 0; i < n; i++ {
		srv := fakezk.New(t)
		srv.SetDelay(delay)
		srv.SetTracker(tr)
		srv.SetAll(replies, fakezk.Answer)
		servers = append(servers, srv)
		members = append(members, config.Member{Address: srv.Addr(), Observer: i >= 3})
	}
	return config.Ensemble{Name: name, Servers: members, Timeout: config.Duration(2 * time.Second)}, servers
}

// smallReplies are 3.4-sized replies: leaks and connection bounds do not
// depend on the size of the replies.
var smallReplies = map[string][]byte{"srvr": []byte("Zookeeper version: 3.4.6\nZxid: 0x100000005\nMode: follower\n"),
	"mntr": []byte("zk_version\t3.4.6\nzk_server_state\tfollower\nzk_outstanding_requests\t0\nzk_znode_count\t5\n"),
	"conf": []byte("serverId=1\npeerType=0\nmembership: \nserver.1=a:1:2:participant\nversion=0")}

// Test200ConcurrentScrapes: 200 scrapes of one ensemble at once cost each
// member one round of words (srvr, mntr, conf), not 200.
func Test200ConcurrentScrapes(t *testing.T) {
	e, servers := fakeEnsemble(t, "e", 5, 300*time.Millisecond, nil)
	h := newHandler(&config.Config{Ensembles: []config.Ensemble{e}})
	var wg sync.WaitGroup
	start := make(chan struct{})
	failed := make(chan string, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec := httptest.NewRecorder()
			h.ServeMetrics(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			if rec.Code != 200 {
				failed <- rec.Body.String()
			}
		}()
	}
	close(start)
	wg.Wait()
	close(failed)
	for f := range failed {
		t.Fatalf("a scrape failed: %s", f)
	}
	for i, srv := range servers {
		if c := srv.Connections(); c != 3 {
			t.Errorf("member %d saw %d connections for 200 concurrent scrapes, want 3 (one srvr, mntr, conf)", i, c)
		}
	}
	t.Logf("200 concurrent scrapes: connections per member %d %d %d %d %d", servers[0].Connections(), servers[1].Connections(),
		servers[2].Connections(), servers[3].Connections(), servers[4].Connections())
}

// TestManyScrapesNoLeak: 10,000 scrapes leave no goroutine behind (goleak
// checks the whole package at exit too).
func TestManyScrapesNoLeak(t *testing.T) {
	n := 10000
	if testing.Short() {
		n = 500
	}
	e, _ := fakeEnsembleWith(t, "e", 5, 0, nil, smallReplies)
	h := newHandler(&config.Config{Ensembles: []config.Ensemble{e}})
	before := runtime.NumGoroutine()
	start := time.Now()
	for i := 0; i < n; i++ {
		rec := httptest.NewRecorder()
		h.ServeMetrics(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != 200 {
			t.Fatalf("scrape %d: %d", i, rec.Code)
		}
	}
	// Connections the fake servers close after answering may take a moment.
	var after int
	for wait := 0; wait < 50; wait++ {
		if after = runtime.NumGoroutine(); after <= before {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("%d scrapes in %v: goroutines before %d, after %d", n, time.Since(start).Round(time.Millisecond), before, after)
	if after > before {
		t.Errorf("goroutines grew from %d to %d over %d scrapes", before, after, n)
	}
}

// TestManyEnsemblesBounded: 200 ensembles of 5 fake members (1,000 members)
// in one scrape: connections in flight stay under max-concurrency x 4.
func TestManyEnsemblesBounded(t *testing.T) {
	tr := &fakezk.Tracker{}
	var ensembles []config.Ensemble
	for i := 0; i < 200; i++ {
		e, _ := fakeEnsembleWith(t, fmt.Sprintf("e%03d", i), 5, 5*time.Millisecond, tr, smallReplies)
		// A deadline no busy machine reaches: the wait for a slot counts
		// against it, and this test is about the bound, not the speed
		// (make bench times it).
		e.Timeout = config.Duration(time.Minute)
		ensembles = append(ensembles, e)
	}
	const limit = 64
	h := newHandler(&config.Config{Ensembles: ensembles})
	h.Poller = ensemble.NewPoller(log.NewNopLogger(), limit)
	start := time.Now()
	rec := httptest.NewRecorder()
	h.ServeMetrics(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	took := time.Since(start)
	all := parseScrape(t, rec.Body.Bytes())
	fam := all.families["zookeeper_up"]
	up := 0
	for _, m := range fam.GetMetric() {
		if m.GetGauge().GetValue() == 1 {
			up++
		}
	}
	if up != 1000 {
		t.Errorf("%d of 1000 members up", up)
	}
	if max := tr.Max(); max > int64(limit*len(ensemble.Commands)) {
		t.Errorf("%d connections in flight, want at most %d (max-concurrency %d x %d words)", max, limit*len(ensemble.Commands), limit, len(ensemble.Commands))
	}
	t.Logf("1000 members (200 ensembles x 5), max-concurrency %d: scrape %v, %d connections in flight at most, %d bytes",
		limit, took.Round(time.Millisecond), tr.Max(), rec.Body.Len())
}

package collector

import (
	"bytes"
	"context"
	"flag"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

var update = flag.Bool("update", false, "rewrite the golden .prom files")

// fakeMember is one member of a fake ensemble: a fixture prefix under
// ../fourletter/testdata (words it lacks get 0 bytes) and how it behaves.
type fakeMember struct {
	name      string // the server label in the golden file
	fixture   string // e.g. "3.8.0/healthy/leader"; "" for no files
	observer  bool
	dead      bool // nothing listens
	behaviour fakezk.Behaviour
	replies   map[string]string // overrides
	// serverID, when set, rewrites serverId= in the conf fixture: two
	// members answering one fixture would otherwise claim one id.
	serverID string
}

var fixtureWords = []string{"srvr", "mntr", "conf", "ruok"}

func startFake(t *testing.T, members []fakeMember) ([]config.Member, map[string]string) {
	t.Helper()
	var out []config.Member
	names := map[string]string{}
	for _, m := range members {
		var addr string
		if m.dead {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr = ln.Addr().String()
			ln.Close()
		} else {
			srv := fakezk.New(t)
			addr = srv.Addr()
			for _, w := range fixtureWords {
				if m.fixture == "" {
					break
				}
				path := filepath.Join("..", "fourletter", "testdata", m.fixture+"-"+w+".txt")
				if strings.HasPrefix(m.fixture, "3.4/") {
					path = filepath.Join("..", "fourletter", "testdata", m.fixture, w+".txt")
				}
				if body, err := os.ReadFile(path); err == nil {
					if w == "conf" && m.serverID != "" {
						body = regexp.MustCompile(`serverId=\d+`).ReplaceAll(body, []byte("serverId="+m.serverID))
					}
					srv.Set(w, body, m.behaviour)
				}
			}
			for w, body := range m.replies {
				srv.Set(w, []byte(body), m.behaviour)
			}
		}
		out = append(out, config.Member{Address: addr, Observer: m.observer})
		names[addr] = m.name
	}
	return out, names
}

// scrape serves one ensemble through the real handler and returns the text
// exposition with addresses replaced by member names and timings dropped.
func scrape(t *testing.T, members []config.Member, names map[string]string, timeout time.Duration) string {
	t.Helper()
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "test", Servers: members, Timeout: config.Duration(timeout)}}}
	h := newHandler(cfg)
	rec := httptest.NewRecorder()
	h.ServeMetrics(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	return normalise(t, rec.Body.Bytes(), names)
}

func normalise(t *testing.T, body []byte, names map[string]string) string {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, body)
	}
	keys := make([]string, 0, len(families))
	for k := range families {
		if strings.HasSuffix(k, "duration_seconds") {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	for _, k := range keys {
		if _, err := expfmt.MetricFamilyToText(&buf, families[k]); err != nil {
			t.Fatal(err)
		}
	}
	text := buf.String()
	for addr, name := range names {
		text = strings.ReplaceAll(text, addr, name)
	}
	// Series are sorted by their real addresses (random ports); sort them
	// again by member name within each family.
	var out, block []string
	flush := func() {
		sort.Strings(block)
		out = append(out, block...)
		block = block[:0]
	}
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if strings.HasPrefix(line, "#") {
			flush()
			out = append(out, line)
			continue
		}
		block = append(block, line)
	}
	flush()
	return strings.Join(out, "\n") + "\n"
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".prom")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs from the golden file; run go test ./collector -update and review the diff.\n%s", path, diffLines(string(want), got))
	}
}

func diffLines(want, got string) string {
	w, g := map[string]bool{}, map[string]bool{}
	for _, l := range strings.Split(want, "\n") {
		w[l] = true
	}
	for _, l := range strings.Split(got, "\n") {
		g[l] = true
	}
	var out []string
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			out = append(out, "- "+l)
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			out = append(out, "+ "+l)
		}
	}
	if len(out) > 40 {
		out = append(out[:40], "...")
	}
	return strings.Join(out, "\n")
}

const notServing = "This ZooKeeper instance is not currently serving requests\n"

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name    string
		members []fakeMember
		timeout time.Duration
	}{
		{name: "healthy", members: []fakeMember{
			{name: "zk1", fixture: "3.8.0/healthy/follower"},
			{name: "zk2", fixture: "3.8.0/healthy/leader"},
			{name: "zk3", fixture: "3.8.0/healthy/follower", serverID: "3"},
			{name: "zk4", fixture: "3.8.0/healthy/observer", observer: true}}},
		{name: "one_voter_down", members: []fakeMember{
			{name: "zk1", fixture: "3.8.0/one-voter-down/follower"},
			{name: "zk2", fixture: "3.8.0/one-voter-down/leader"},
			{name: "zk3", dead: true},
			{name: "zk4", fixture: "3.8.0/one-voter-down/observer", observer: true}}},
		{name: "quorum_lost", members: []fakeMember{
			{name: "zk1", dead: true},
			{name: "zk2", fixture: "3.8.0/quorum-lost/survivor"},
			{name: "zk3", dead: true},
			{name: "zk4", fixture: "3.8.0/quorum-lost/observer", observer: true}}},
		{name: "whitelist_default", members: []fakeMember{
			{name: "zk1", fixture: "3.8.0/whitelist-default/follower"},
			{name: "zk2", fixture: "3.8.0/whitelist-default/leader"},
			{name: "zk4", fixture: "3.8.0/whitelist-default/observer", observer: true}}},
		{name: "standalone", members: []fakeMember{{name: "zk1", fixture: "3.8.0/standalone/standalone"}}},
		{name: "leader_3.4", members: []fakeMember{
			{name: "zk1", fixture: "3.4/leader-3.4.6"},
			{name: "zk2", replies: map[string]string{"srvr": "Zookeeper version: 3.4.6--1, built on 06/16/2015 22:50 GMT\nLatency min/avg/max: 0/0/12\nReceived: 10\nSent: 10\nConnections: 1\nOutstanding: 0\nZxid: 0xa000301c0\nMode: follower\nNode count: 17090\n"}},
			{name: "zk3", replies: map[string]string{"srvr": "Zookeeper version: 3.4.6--1, built on 06/16/2015 22:50 GMT\nLatency min/avg/max: 0/0/12\nReceived: 10\nSent: 10\nConnections: 1\nOutstanding: 0\nZxid: 0xa000301d0\nMode: follower\nNode count: 17090\n"}}}},
		{name: "deadline", timeout: 300 * time.Millisecond, members: []fakeMember{
			{name: "zk1", fixture: "3.8.0/healthy/follower"},
			{name: "zk2", fixture: "3.8.0/healthy/leader"},
			{name: "zk3", fixture: "3.8.0/healthy/follower", serverID: "3", behaviour: fakezk.Stall}}},
		{name: "config_mismatch", members: []fakeMember{
			{name: "zk1", fixture: "3.8.0/config-mismatch/c-leader"},
			{name: "zk2", fixture: "3.8.0/config-mismatch/c-mismatched-2"},
			{name: "zk3", fixture: "3.8.0/config-mismatch/c-leader", replies: map[string]string{"srvr": "Zookeeper version: 3.8.0-5a02a05eddb59aee6ac762f7ea82e92a68eb9c0f, built on 2022-02-25 08:49 UTC\nMode: follower\nZxid: 0x200000008\n", "mntr": notServing}},
			{name: "zk4", fixture: "3.8.0/config-mismatch/c-observer", observer: true}}},
		// ZooKeeper's Prometheus metrics provider changes mntr itself:
		// labelled samples, _count/_sum, doubles.
		{name: "prometheus_provider", members: []fakeMember{
			{name: "zk1", replies: map[string]string{
				"srvr": "Zookeeper version: 3.8.4-1, built on 2024-02-12 22:16 UTC\nZxid: 0x300000010\nMode: leader\n",
				"mntr": "zk_version\t3.8.4-1, built on 2024-02-12 22:16 UTC\nzk_server_state\tleader\nzk_synced_followers\t2.0\n" +
					"zk_readlatency{quantile=\"0.5\"}\t1.0\nzk_readlatency{quantile=\"0.9\"}\t2.0\nzk_readlatency{quantile=\"0.99\"}\t4.0\n" +
					"zk_readlatency_count\t10.0\nzk_readlatency_sum\t15.0\n" +
					"zk_learner_handler_qp_size{key=\"2\",quantile=\"0.5\"}\t0.0\nzk_learner_handler_qp_size_count{key=\"2\"}\t7.0\nzk_learner_handler_qp_size_sum{key=\"2\"}\t3.0\n" +
					"zk_learner_handler_qp_size{key=\"3\",quantile=\"0.5\"}\t1.0\nzk_learner_handler_qp_size_count{key=\"3\"}\t8.0\nzk_learner_handler_qp_size_sum{key=\"3\"}\t4.0\n" +
					"zk_jvm_threads_current\t42.0\nzk_jvm_info{version=\"17.0.15+6\",vendor=\"Debian\"}\t1.0\nzk_commit_count\t99.0\n" +
					"zk_bad{ensemble=\"x\"}\t1\n"}}}},
		// Right after an election (the recorded 3.8.0 leader-killed
		// members): the new leader is at counter 0 of epoch 2 and the
		// follower still at the previous epoch's zxid until the first
		// write. It has everything: lag 0, not absent.
		{name: "after_election", members: []fakeMember{
			{name: "zk1", fixture: "3.8.0/leader-killed/follower", replies: map[string]string{"srvr": "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\nLatency min/avg/max: 0/0.6667/2\nReceived: 16\nSent: 15\nConnections: 2\nOutstanding: 0\nZxid: 0x100000060\nMode: follower\nNode count: 54\n"}},
			{name: "zk3", fixture: "3.8.0/leader-killed/new-leader"},
			{name: "zk4", fixture: "3.8.0/leader-killed/observer", observer: true}}},
		// Replies other projects recorded from ZooKeeper 3.3 to 3.7
		// (../fourletter/testdata/peers/SOURCES.md), one member each: the
		// words not recorded are closed without a byte.
		{name: "peer_3.3.0_follower_stat", members: []fakeMember{{name: "zk1", fixture: "peers/zkcontrib-3.3.0-follower"}}},
		{name: "peer_3.4.0_follower_mntr", members: []fakeMember{{name: "zk1", fixture: "peers/zkcontrib-3.4.0-follower"}}},
		{name: "peer_3.4.6_leader_srvr", members: []fakeMember{{name: "zk1", fixture: "peers/gozk-3.4.6-leader"}}},
		{name: "peer_3.5.3_leader_mntr", members: []fakeMember{{name: "zk1", fixture: "peers/beats-3.5.3-leader"}}},
		{name: "peer_3.5.5_leader_mntr", members: []fakeMember{{name: "zk1", fixture: "peers/otel-3.5.5-leader"}}},
		{name: "peer_3.5.5_standalone_srvr", members: []fakeMember{{name: "zk1", fixture: "peers/beats-3.5.5-standalone"}}},
		{name: "peer_3.6.1_standalone_mntr", members: []fakeMember{{name: "zk1", fixture: "peers/netdata-3.6.1-standalone"}}},
		{name: "peer_3.6.1_leader_solr", members: []fakeMember{{name: "zk1", fixture: "peers/solr-3.6.1-leader"}}},
		{name: "peer_3.7.0_leader_mntr", members: []fakeMember{{name: "zk1", fixture: "peers/beats-3.7.0-leader"}}},
		{name: "peer_3.7.0_follower_mntr", members: []fakeMember{{name: "zk1", fixture: "peers/datadog-3.7.0-follower"}}},
		// The rest of the peers' sets (SOURCES.md "Sets built on it").
		// ZooKeeper's contrib test's broken lines: two entries kept.
		{name: "peer_3.4.0_synthetic_mntr", members: []fakeMember{{name: "zk1", fixture: "peers/zkcontrib-3.4.0-synthetic"}}},
		// Solr's ensemble mock: zoo1 answers mntr and conf fragments, zoo2
		// nothing (its ruok empty), zoo3 refuses mntr; unrecorded words
		// are closed. Solr: zoo1 ok, zoo2 and zoo3 not.
		{name: "peer_3.5.5_solr_ensemble_mock", members: []fakeMember{
			{name: "zoo1", fixture: "peers/solr-3.5.5-zoo1"},
			{name: "zoo2", fixture: "peers/solr-3.5.5-zoo2"},
			{name: "zoo3", fixture: "peers/solr-3.5.5-zoo3"}}},
		// Solr's not-serving text, which ZooKeeper prints for srvr, mntr
		// and conf alike; ruok is imok whatever the state.
		{name: "peer_3.5.5_solr_not_serving", members: []fakeMember{{name: "zk1", fixture: "peers/solr-3.5.5-notserving",
			replies: map[string]string{"srvr": notServing, "conf": notServing, "ruok": "imok"}}}},
		// Solr's ZOOKEEPER-3829 fragment: the leader counts 2 synced
		// followers that the one watched member cannot show.
		{name: "peer_3.5.5_leader_solr", members: []fakeMember{{name: "zk1", fixture: "peers/solr-3.5.5-leader"}}},
		{name: "peer_3.5.5_standalone_mntr", members: []fakeMember{{name: "zk1", fixture: "peers/netdata-3.5.5-standalone"}}},
		// netdata's whitelist refusal for mntr, conf refused in
		// ZooKeeper's words, srvr (never refused, never recorded) closed.
		{name: "peer_3.5.5_refused_mntr", members: []fakeMember{{name: "zk1", fixture: "peers/netdata-3.5.5-refused",
			replies: map[string]string{"conf": "conf is not executed because it is not in the whitelist.\n"}}}},
		// Beats' srvr behind 3.5.3+'s default whitelist: mntr and conf
		// refused.
		{name: "peer_3.5.5_standalone_srvr_whitelist_default", members: []fakeMember{{name: "zk1", fixture: "peers/beats-3.5.5-standalone",
			replies: map[string]string{"mntr": "mntr is not executed because it is not in the whitelist.\n", "conf": "conf is not executed because it is not in the whitelist.\n"}}}},
		{name: "peer_3.5.5_leader_alone_mntr", members: []fakeMember{{name: "zk1", fixture: "peers/otel-3.5.5-leader-nofollowers"}}},
		// Only ruok answers: the exporter's fallback tells a live process.
		{name: "peer_3.5.5_ruok_only", members: []fakeMember{{name: "zk1", fixture: "peers/otel-3.5.5-ruokonly"}}},
		// DataDog's file byte for byte: its first and last lines spoiled
		// by the Python quotes (no zk_version, a summary without its sum).
		{name: "peer_3.7.0_follower_mntr_verbatim", members: []fakeMember{{name: "zk1", fixture: "peers/datadog-3.7.0-follower-verbatim"}}},
		{name: "garbage", members: []fakeMember{
			{name: "zk1", fixture: "3.8.0/healthy/leader"},
			{name: "zk2", replies: map[string]string{"srvr": "\x00\xff garbage\n", "mntr": "zk_version\t3.8.0\nnonsense\nzk_server_state\tfollower\nzk_x{bad\t1\nzk_up\t5\nzk_y\tNaN\nzk_outstanding_requests\t7\nzk_outstanding_requests\t9\n", "conf": "nope"}},
			{name: "zk3", replies: map[string]string{"ruok": "imok"}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			timeout := tc.timeout
			if timeout == 0 {
				timeout = 2 * time.Second
			}
			members, names := startFake(t, tc.members)
			start := time.Now()
			got := scrape(t, members, names, timeout)
			// A hang check, not a timing one: a busy machine adds seconds
			// (make bench times scrapes); a poll that ignores its deadline
			// adds far more.
			if elapsed := time.Since(start); elapsed > timeout+15*time.Second {
				t.Errorf("scrape took %v with a %v deadline", elapsed, timeout)
			}
			compareGolden(t, tc.name, got)
		})
	}
}

var _ = context.Background
var _ = prometheus.NewRegistry

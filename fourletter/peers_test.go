package fourletter

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestPeerRecordings: replies of ZooKeeper 3.3 to 3.7 that other projects
// keep in their tests (testdata/peers/SOURCES.md), parsed to the values
// those projects' own tests expect.
func TestPeerRecordings(t *testing.T) {
	read := func(t *testing.T, name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join("testdata", "peers", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	type mntrCase struct {
		file, state, version string
		samples, malformed   int // -1: not checked
		values               map[string]float64
	}
	for _, tc := range []mntrCase{
		// ZooKeeper's contrib monitoring test: 14 entries, znode_count 4.
		{"zkcontrib-3.4.0-follower-mntr.txt", "follower", "3.4.0", 12, 0, map[string]float64{"znode_count": 4}},
		// Its hand-made broken lines: two entries kept, the broken one skipped.
		{"zkcontrib-3.4.0-synthetic-mntr.txt", "", "3.4.0", 1, 1, map[string]float64{"avg_latency": 23}},
		// Elastic Beats: 3.5.3 learners 1, followers 1, latency max 29, avg 0, min 0.
		{"beats-3.5.3-leader-mntr.txt", "leader", "3.5.3", -1, 0, map[string]float64{"followers": 1, "synced_followers": 1, "max_latency": 29, "avg_latency": 0, "min_latency": 0}},
		// 3.7.0: learners 1, latency max 8, avg 0.5714, min 0.
		{"beats-3.7.0-leader-mntr.txt", "leader", "3.7.0", -1, 0, map[string]float64{"learners": 1, "synced_followers": 1, "max_latency": 8, "avg_latency": 0.5714, "min_latency": 0}},
		// Datadog: mode follower; 499 metrics and one unparsable line
		// (zk_peer_state, a string here, skipped without a count): 502
		// lines less version, state and peer state.
		{"datadog-3.7.0-follower-mntr.txt", "follower", "3.7.0", 499, 0, map[string]float64{"znode_count": 86754, "uptime": 13655939}},
		// The file as DataDog's test feeds it: first and last line spoiled
		// by the quotes, the rest still comes through.
		{"datadog-3.7.0-follower-verbatim-mntr.txt", "follower", "", -1, 2, map[string]float64{"znode_count": 86754}},
		// netdata: 3.6.1 latencies in ms (0.1; netdata scales them by
		// 1000 to 100), packets 92/182, fds 63, server_state standalone.
		{"netdata-3.6.1-standalone-mntr.txt", "standalone", "3.6.1", -1, 0, map[string]float64{"approximate_data_size": 44, "avg_latency": 0.1, "max_latency": 0.1, "min_latency": 0.1,
			"ephemerals_count": 0, "max_file_descriptor_count": 1048576, "num_alive_connections": 1, "open_file_descriptor_count": 63, "outstanding_requests": 0,
			"packets_received": 92, "packets_sent": 182, "znode_count": 5, "watch_count": 0}},
		{"netdata-3.5.5-standalone-mntr.txt", "standalone", "3.5.5", 13, 0, map[string]float64{"approximate_data_size": 44, "avg_latency": 0, "max_latency": 0, "min_latency": 0,
			"ephemerals_count": 0, "max_file_descriptor_count": 1048576, "num_alive_connections": 1, "open_file_descriptor_count": 46, "outstanding_requests": 0,
			"packets_received": 464, "packets_sent": 463, "watch_count": 0, "znode_count": 5}},
		// OpenTelemetry's correctness-v3.5.5 golden: connections 1,
		// ephemerals 0, data size 107, fds 1048576/54, followers synced 1
		// and unsynced 1 (of 2), latencies 0, packets 1 received 0 sent,
		// requests 0, pending syncs 0, watches 0, znodes 5.
		{"otel-3.5.5-leader-mntr.txt", "leader", "3.5.5", 19, 0, map[string]float64{"num_alive_connections": 1, "ephemerals_count": 0, "approximate_data_size": 107,
			"max_file_descriptor_count": 1048576, "open_file_descriptor_count": 54, "followers": 2, "synced_followers": 1, "avg_latency": 0, "max_latency": 0, "min_latency": 0,
			"packets_received": 1, "packets_sent": 0, "outstanding_requests": 0, "pending_syncs": 0, "watch_count": 0, "znode_count": 5}},
		// The same leader alone (the receiver's earlier fixture).
		{"otel-3.5.5-leader-nofollowers-mntr.txt", "leader", "3.5.5", 19, 0, map[string]float64{"followers": 0, "synced_followers": 0, "znode_count": 5}},
		// Solr: 3.6's float synced_followers 0.0 and avg latency 0.24 parse.
		{"solr-3.6.1-leader-mntr.txt", "leader", "3.6.1", 2, 0, map[string]float64{"synced_followers": 0, "avg_latency": 0.24}},
		{"solr-3.5.5-leader-mntr.txt", "leader", "3.5.5", 2, 0, map[string]float64{"synced_followers": 2, "avg_latency": 1}},
		{"solr-3.5.5-zoo1-mntr.txt", "", "3.5.5", 1, 0, map[string]float64{"avg_latency": 1}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, err := ParseMntr(bytes.NewReader(read(t, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if m.ServerState != tc.state || ShortVersion(m.Version) != tc.version {
				t.Errorf("state %q version %q, want %q %q", m.ServerState, ShortVersion(m.Version), tc.state, tc.version)
			}
			if tc.samples >= 0 && len(m.Samples) != tc.samples {
				t.Errorf("%d samples, want %d", len(m.Samples), tc.samples)
			}
			if tc.malformed >= 0 && m.Malformed != tc.malformed {
				t.Errorf("%d malformed lines, want %d", m.Malformed, tc.malformed)
			}
			for k, want := range tc.values {
				if got, ok := m.Value(k); !ok || got != want {
					t.Errorf("%s = %v (present %v), want %v", k, got, ok, want)
				}
			}
		})
	}

	for _, tc := range []struct {
		file, mode, version   string
		received, sent, conns float64
		hasConns              bool
		outstanding           float64
		hasOutstanding        bool
		min, avg, max, nodes  float64
		zxid                  uint64
	}{
		// go-zookeeper: Sent 4220, Received 4207, NodeCount 306, latency
		// 0/1/10, Connections 81, Outstanding 1, Epoch 17, Counter
		// 175804215.
		{"gozk-3.4.6-leader-srvr.txt", "leader", "3.4.6", 4207, 4220, 81, true, 1, true, 0, 1, 10, 306, 0x110a7a8f37},
		// Beats: latency 1/2/3, received 46, sent 45, connections 1,
		// outstanding 0, zxid 0x700601132 (epoch 7, count 0x601132), 4
		// nodes; its proposal sizes -3/-999/-1 are mntr's to tell.
		{"beats-3.5.5-standalone-srvr.txt", "standalone", "3.5.5", 46, 45, 1, true, 0, true, 1, 2, 3, 4, 0x700601132},
		// ZooKeeper's contrib test: 3.3.0 stat (no Connections line, a
		// Clients block): latency 0/40/121, received 11, sent 10, 4 nodes.
		{"zkcontrib-3.3.0-follower-srvr.txt", "follower", "3.3.0", 11, 10, 0, false, 0, true, 0, 40, 121, 4, 0x700000003},
	} {
		t.Run(tc.file, func(t *testing.T) {
			s, err := ParseSrvr(bytes.NewReader(read(t, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if s.Mode != tc.mode || ShortVersion(s.Version) != tc.version || s.Received != tc.received || s.Sent != tc.sent ||
				s.HasConnections != tc.hasConns || s.Connections != tc.conns || s.LatencyMin != tc.min || s.LatencyAvg != tc.avg ||
				s.HasOutstanding != tc.hasOutstanding || s.Outstanding != tc.outstanding ||
				s.LatencyMax != tc.max || s.NodeCount != tc.nodes || s.Zxid != tc.zxid || s.Malformed != 0 {
				t.Errorf("got %+v", s)
			}
		})
	}
	if s, _ := ParseSrvr(bytes.NewReader(read(t, "beats-3.5.5-standalone-srvr.txt"))); s.Version != "3.5.5-390fe37ea45dee01bf87dc1c042b5e3dcce88653, built on 05/03/2019 12:07 GMT" {
		t.Errorf("Beats' version id 3.5.5-390fe37ea45dee01bf87dc1c042b5e3dcce88653, date 2019-05-03 12:07: got %q", s.Version)
	}
	if s, _ := ParseSrvr(bytes.NewReader(read(t, "gozk-3.4.6-leader-srvr.txt"))); s.ZxidEpoch() != 17 || s.ZxidCounter() != 175804215 {
		t.Errorf("go-zookeeper's epoch 17, counter 175804215: got %d, %d", s.ZxidEpoch(), s.ZxidCounter())
	}

	// Solr's conf fragment: clientPort and secureClientPort kept, its
	// "thisIsUnexpected" line counted; the whitelist refusal and the
	// not-serving text are refusals, not replies.
	c, err := ParseConf(bytes.NewReader(read(t, "solr-3.5.5-zoo1-conf.txt")))
	if err != nil || c.Settings["clientPort"] != "2181" || c.Settings["secureClientPort"] != "-1" || c.Malformed != 1 {
		t.Errorf("solr conf: %+v %v", c, err)
	}
	if err := Refusal(read(t, "netdata-3.5.5-refused-mntr.txt")); !errors.Is(err, ErrNotWhitelisted) {
		t.Errorf("netdata's whitelist refusal: %v", err)
	}
	if err := Refusal(read(t, "solr-3.5.5-notserving-mntr.txt")); !errors.Is(err, ErrNotServing) {
		t.Errorf("solr's not-serving text: %v", err)
	}
	for _, f := range []string{"gozk-3.4.6-leader-ruok.txt", "otel-3.5.5-leader-ruok.txt", "otel-3.5.5-ruokonly-ruok.txt", "solr-3.5.5-zoo1-ruok.txt", "solr-3.5.5-zoo3-ruok.txt"} {
		if ok, err := ParseRuok(read(t, f)); !ok || err != nil {
			t.Errorf("%s: %v %v", f, ok, err)
		}
	}

	// Solr's ensemble mock: zoo1's conf has the membership line and no
	// server (a fragment); zoo2's empty ruok is an error ("Empty response
	// from Zookeeper zoo2:2181"); zoo3 refuses mntr ("Could not execute
	// mntr") and answers conf with clientPort 2181.
	if c.ServerID != -1 || !c.HasMembership || len(c.Servers) != 0 {
		t.Errorf("solr zoo1 conf: %+v", c)
	}
	if ok, err := ParseRuok(read(t, "solr-3.5.5-zoo2-ruok.txt")); ok || !errors.Is(err, ErrEmptyResponse) {
		t.Errorf("solr zoo2's empty ruok: %v %v", ok, err)
	}
	if err := Refusal(read(t, "solr-3.5.5-zoo3-mntr.txt")); !errors.Is(err, ErrNotWhitelisted) {
		t.Errorf("solr zoo3's mntr refusal: %v", err)
	}
	for _, f := range []string{"solr-3.5.5-zoo3-conf.txt", "solr-3.5.5-leader-conf.txt", "solr-3.6.1-leader-conf.txt"} {
		c, err := ParseConf(bytes.NewReader(read(t, f)))
		if err != nil || c.Settings["clientPort"] != "2181" || len(c.Settings) != 1 || c.Malformed != 0 || c.HasMembership {
			t.Errorf("%s: %+v %v", f, c, err)
		}
	}
	// None of the refusals, nor the empty reply, passes for a reply.
	for _, f := range []string{"solr-3.5.5-zoo3-mntr.txt", "netdata-3.5.5-refused-mntr.txt", "solr-3.5.5-notserving-mntr.txt", "solr-3.5.5-zoo2-ruok.txt"} {
		if _, err := ParseMntr(bytes.NewReader(read(t, f))); err == nil {
			t.Errorf("%s parsed as mntr", f)
		}
	}
}

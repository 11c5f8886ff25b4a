package fourletter

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// fixtureCommand tells which word a fixture file holds from its name:
// "<role>-<cmd>.txt" for 3.8.0, "<cmd>.txt" for 3.4.
func fixtureCommand(name string) string {
	base := strings.TrimSuffix(filepath.Base(name), ".txt")
	if i := strings.LastIndexByte(base, '-'); i >= 0 {
		return base[i+1:]
	}
	return base
}

// TestEveryFixtureParses runs every recorded reply through its parser (or the
// refusal check) and requires a clean parse: no error, no skipped line.
func TestEveryFixtureParses(t *testing.T) {
	files, err := filepath.Glob("testdata/*/*/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	counts := map[string]int{}
	for _, f := range files {
		cmd := fixtureCommand(f)
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(strings.TrimPrefix(f, "testdata/"), func(t *testing.T) {
			if len(body) == 0 {
				// A dead member: the recorder got a refused connection.
				return
			}
			if refusal := Refusal(body); refusal != nil {
				text := string(body)
				switch {
				case errors.Is(refusal, ErrNotServing) && strings.HasPrefix(text, "This ZooKeeper instance is not currently serving requests"):
				case errors.Is(refusal, ErrNotWhitelisted) && strings.HasPrefix(text, cmd+" is not executed"):
				default:
					t.Fatalf("refusal %v for %q", refusal, text)
				}
				counts["refusal"]++
				return
			}
			counts[cmd]++
			switch cmd {
			case "mntr":
				m, err := ParseMntr(bytes.NewReader(body))
				if err != nil || m.Malformed != 0 {
					t.Fatalf("ParseMntr: err=%v malformed=%d", err, m.Malformed)
				}
				if !validStates[m.ServerState] || ShortVersion(m.Version) == "" {
					t.Errorf("state %q version %q", m.ServerState, m.Version)
				}
				lines := strings.Count(strings.TrimSpace(string(body)), "\n") + 1
				if got := len(m.Samples) + 2 + btoi(hasPeerState(body)); got != lines {
					t.Errorf("%d samples+strings for %d lines", got, lines)
				}
			case "srvr", "stat":
				s, err := ParseSrvr(bytes.NewReader(body))
				if err != nil || s.Malformed != 0 {
					t.Fatalf("ParseSrvr: err=%v malformed=%d", err, s.Malformed)
				}
				if !validStates[s.Mode] || !s.HasZxid || !s.HasLatency || !s.HasNodeCount {
					t.Errorf("incomplete: %+v", s)
				}
			case "conf":
				c, err := ParseConf(bytes.NewReader(body))
				if err != nil || c.Malformed != 0 {
					t.Fatalf("ParseConf: err=%v malformed=%d", err, c.Malformed)
				}
				standalone := strings.Contains(f, "standalone")
				if c.HasMembership == standalone && strings.Contains(f, "3.8.0") {
					t.Errorf("membership block %v in %s", c.HasMembership, f)
				}
			case "ruok":
				if ok, err := ParseRuok(body); !ok || err != nil {
					t.Errorf("ParseRuok = %v, %v", ok, err)
				}
			case "isro":
				// Recorded, not asked: srvr's Mode says read-only.
			default:
				t.Fatalf("fixture %s: no parser for %q", f, cmd)
			}
		})
	}
	t.Logf("fixtures parsed: %v", counts)
}

var validStates = map[string]bool{"leader": true, "follower": true, "observer": true, "standalone": true, "read-only": true}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", path))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseSrvr(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Srvr
	}{
		{"3.8.0/healthy/leader-srvr.txt", Srvr{
			Version:    "3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC",
			LatencyMin: 0, LatencyAvg: 3.5795, LatencyMax: 26, Received: 97, Sent: 96, Connections: 2,
			Outstanding: 0, Zxid: 0x100000060, Mode: "leader", NodeCount: 54,
			HasLatency: true, HasReceived: true, HasSent: true, HasConnections: true, HasOutstanding: true, HasZxid: true, HasNodeCount: true}},
		{"3.4/leader-3.4.6/srvr.txt", Srvr{
			Version:    "3.4.6--1, built on 06/16/2015 22:50 GMT",
			LatencyMax: 101, Received: 213128515, Sent: 213164119, Connections: 6, Zxid: 0xa000301d0, Mode: "leader", NodeCount: 17090,
			HasLatency: true, HasReceived: true, HasSent: true, HasConnections: true, HasOutstanding: true, HasZxid: true, HasNodeCount: true}},
		{"3.4/standalone-3.4.5/stat.txt", Srvr{
			Version:    "3.4.5-1392090, built on 09/30/2012 17:52 GMT",
			LatencyMax: 88, Received: 4206995, Sent: 4207018, Connections: 8, Zxid: 0x745, Mode: "standalone", NodeCount: 282,
			HasLatency: true, HasReceived: true, HasSent: true, HasConnections: true, HasOutstanding: true, HasZxid: true, HasNodeCount: true}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			got, err := ParseSrvr(bytes.NewReader(readFixture(t, tc.file)))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
	s := Srvr{Zxid: 0xa000301d0}
	if s.ZxidEpoch() != 0xa || s.ZxidCounter() != 0x301d0 {
		t.Errorf("zxid halves: %x %x", s.ZxidEpoch(), s.ZxidCounter())
	}
}

func TestParseSrvrBad(t *testing.T) {
	for name, in := range map[string]string{
		"empty":              "",
		"no mode":            "Zookeeper version: 3.8.0\nZxid: 0x1\n",
		"garbage":            "\x00\x01\x02\xff",
		"not srvr":           "imok",
		"mntr text":          "zk_version\t3.8.0\nzk_server_state\tleader\n",
		"mode only":          "Mode: follower\n",
		"version only":       "Zookeeper version: 3.8.0-1, built on 2024-02-12 22:16 UTC\n",
		"random with a mode": "\x9f\x02Mode: leader\n\xff\xfe=\x00",
	} {
		if _, err := ParseSrvr(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	s, err := ParseSrvr(strings.NewReader("Zookeeper version: 3.8.0\nMode: follower\nZxid: zz\nReceived: many\nLatency min/avg/max: 1/2\n"))
	if err != nil || s.Malformed != 3 || s.HasZxid || s.HasReceived || s.HasLatency {
		t.Errorf("bad values: %+v %v", s, err)
	}
	s, err = ParseSrvr(strings.NewReader("Zookeeper version: 3.8.0\nREAD-ONLY mode; serving only read-only clients\nMode: read-only\n"))
	if err != nil || s.Mode != "read-only" {
		t.Errorf("read-only: %+v %v", s, err)
	}
}

func TestParseConf(t *testing.T) {
	participant := func(id int64, q, e, client string) ServerLine {
		addr := "127.0.0.1:" + q + ":" + e
		raw := "server." + itoa(id) + "=" + addr + ":participant"
		if client != "" {
			raw += ";" + client
		}
		return ServerLine{ID: id, Addresses: addr, Role: "participant", ClientAddress: client, Raw: raw}
	}
	obs := ServerLine{ID: 4, Addresses: "127.0.0.1:22891:23891", Role: "observer", Raw: "server.4=127.0.0.1:22891:23891:observer"}
	got, err := ParseConf(bytes.NewReader(readFixture(t, "3.8.0/healthy/observer-conf.txt")))
	if err != nil {
		t.Fatal(err)
	}
	want := []ServerLine{participant(1, "22888", "23888", ""), participant(2, "22889", "23889", ""), participant(3, "22890", "23890", ""), obs}
	if !reflect.DeepEqual(got.Servers, want) || got.ServerID != 4 || got.PeerType != "observer" ||
		got.ConfigVersion != "0" || got.Voters() != 3 || got.Observers() != 1 || got.Settings["clientPort"] != "22184" {
		t.Errorf("got %+v", got)
	}

	got, err = ParseConf(bytes.NewReader(readFixture(t, "3.8.0/client-in-server-lines/leader-conf.txt")))
	if err != nil || got.Servers[0].ClientAddress != "127.0.0.1:22181" || got.Servers[3].Role != "observer" || got.Servers[3].ClientAddress != "127.0.0.1:22184" {
		t.Errorf("client addresses: %+v %v", got.Servers, err)
	}

	got, err = ParseConf(bytes.NewReader(readFixture(t, "3.8.0/config-mismatch/c-mismatched-2-conf.txt")))
	if err != nil || got.Voters() != 3 || got.Observers() != 2 {
		t.Errorf("mismatched member: %d voters %d observers %v", got.Voters(), got.Observers(), err)
	}
	leader, _ := ParseConf(bytes.NewReader(readFixture(t, "3.8.0/config-mismatch/c-leader-conf.txt")))
	if leader.MembershipKey() == got.MembershipKey() {
		t.Error("different server lists give the same membership key")
	}

	got, err = ParseConf(bytes.NewReader(readFixture(t, "3.4/leader-3.4.6/conf.txt")))
	if err != nil || got.HasMembership || got.ServerID != 3 || got.PeerType != "participant" || len(got.Servers) != 0 {
		t.Errorf("3.4: %+v %v", got, err)
	}

	got, err = ParseConf(bytes.NewReader(readFixture(t, "3.8.0/standalone/standalone-conf.txt")))
	if err != nil || got.HasMembership || got.ServerID != 0 || got.PeerType != "" {
		t.Errorf("standalone: %+v %v", got, err)
	}

	if _, err := ParseConf(strings.NewReader("garbage without equals\n")); err == nil {
		t.Error("garbage conf: no error")
	}
	got, _ = ParseConf(strings.NewReader("serverId=x\nmembership: \nserver.a=1:2:3\nserver.2=\nversion=1"))
	if got.Malformed != 3 {
		t.Errorf("malformed = %d, want 3", got.Malformed)
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestParseMntr34(t *testing.T) {
	got, err := ParseMntr(bytes.NewReader(readFixture(t, "3.4/standalone-3.4.5/mntr.txt")))
	if err != nil {
		t.Fatal(err)
	}
	want := Mntr{
		Version:     "3.4.5-1392090, built on 09/30/2012 17:52 GMT",
		ServerState: "standalone",
		Samples: []Sample{
			{Key: "avg_latency", Value: 0}, {Key: "max_latency", Value: 88}, {Key: "min_latency", Value: 0},
			{Key: "packets_received", Value: 4206750}, {Key: "packets_sent", Value: 4206773},
			{Key: "num_alive_connections", Value: 8}, {Key: "outstanding_requests", Value: 0},
			{Key: "znode_count", Value: 282}, {Key: "watch_count", Value: 194}, {Key: "ephemerals_count", Value: 1},
			{Key: "approximate_data_size", Value: 22960}, {Key: "open_file_descriptor_count", Value: 34},
			{Key: "max_file_descriptor_count", Value: 4096},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseMntr38Leader(t *testing.T) {
	m, err := ParseMntr(bytes.NewReader(readFixture(t, "3.8.0/healthy/leader-mntr.txt")))
	if err != nil {
		t.Fatal(err)
	}
	if m.ServerState != "leader" || ShortVersion(m.Version) != "3.8.0" {
		t.Errorf("strings: %q %q", m.ServerState, m.Version)
	}
	for key, want := range map[string]float64{
		"synced_followers": 2, "synced_observers": 1, "learners": 3, "quorum_size": 3, "avg_latency": 3.5795,
		"connection_drop_probability": 0, "cnt_1_learner_handler_qp_size": 221, "avg_fixture_read_per_namespace": 84.3934,
	} {
		if got, ok := m.Value(key); !ok || got != want {
			t.Errorf("%s = %v (present %v), want %v", key, got, ok, want)
		}
	}
	if len(m.Samples) != 550 {
		t.Errorf("%d samples, want 550 (553 lines less 3 strings)", len(m.Samples))
	}
}

func TestParseMntrBadLines(t *testing.T) {
	in := strings.Join([]string{
		"zk_version\t3.9.9",
		"zk_server_state\tfollower",
		"no separator at all",
		"zk_notanumber\tabc",
		"zk_nan\tNaN",
		"zk_inf\t+Inf",
		"zk_dup\t1",
		"zk_dup\t2",
		"zk_bad{key=\"v\"\t1",
		"zk_bad2{key=v}\t1",
		"zk_bad3{k-y=\"v\"}\t1",
		"zk_ok{key=\"a\\\"b\",quantile=\"0.5\"}\t3.0",
		"zk_space 7",
		"zk_bad-name\t1",
		"other_prefix\t1",
		"\x00\xff\xfe",
		"",
	}, "\n")
	m, err := ParseMntr(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.Malformed != 9 {
		t.Errorf("malformed = %d, want 9", m.Malformed)
	}
	keys := []string{}
	for _, s := range m.Samples {
		keys = append(keys, s.Key)
	}
	if strings.Join(keys, ",") != "nan,inf,dup,ok,space" {
		t.Errorf("keys %v", keys)
	}
	if v, _ := m.Value("dup"); v != 1 {
		t.Errorf("duplicate key kept %v, want the first", v)
	}
	ok := m.Samples[3]
	if !reflect.DeepEqual(ok.Labels, []Label{{"key", `a"b`}, {"quantile", "0.5"}}) || ok.Value != 3 {
		t.Errorf("labelled: %+v", ok)
	}
	for name, in := range map[string]string{"empty": "", "garbage": "\x00\x01\n\xff\n", "refusal": "mntr is not executed because it is not in the whitelist.\n"} {
		if _, err := ParseMntr(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRuokVersion(t *testing.T) {
	if ok, err := ParseRuok([]byte("imok")); !ok || err != nil {
		t.Error("imok")
	}
	if _, err := ParseRuok([]byte("nope")); err == nil {
		t.Error("nope accepted")
	}
	if _, err := ParseRuok(nil); !errors.Is(err, ErrEmptyResponse) {
		t.Error("empty ruok")
	}
	for in, want := range map[string]string{
		"3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC": "3.8.0",
		"3.4.6--1, built on 06/16/2015 22:50 GMT":                  "3.4.6",
		"garbage": "",
	} {
		if got := ShortVersion(in); got != want {
			t.Errorf("ShortVersion(%q) = %q", in, got)
		}
	}
}

func TestRefusal(t *testing.T) {
	for in, want := range map[string]error{
		"This ZooKeeper instance is not currently serving requests\n":             ErrNotServing,
		"mntr is not executed because it is not in the whitelist.\n":              ErrNotWhitelisted,
		"Mode: leader\nfoo is not executed because it is not in the whitelist.\n": nil,
		"imok": nil,
	} {
		if got := Refusal([]byte(in)); !errors.Is(got, want) && got != want {
			t.Errorf("Refusal(%q) = %v, want %v", in, got, want)
		}
	}
}

// TestParseConfHierarchical: a real 3.8.0 member of a hierarchical ensemble
// (two groups and a weight-0 voter, recorded by the quorum-truth test)
// prints its group.N and weight.N lines inside the membership block.
func TestParseConfHierarchical(t *testing.T) {
	body, err := os.ReadFile("testdata/3.8.0/hierarchical/member-conf.txt")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConf(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c.Malformed != 0 || len(c.Servers) != 7 || c.Voters() != 7 || !c.Hierarchical() || c.ConfigVersion != "0" {
		t.Errorf("malformed %d, servers %d, voters %d, hierarchical %v, version %q", c.Malformed, len(c.Servers), c.Voters(), c.Hierarchical(), c.ConfigVersion)
	}
	wantGroups := map[int64]int64{1: 1, 2: 1, 3: 1, 7: 1, 4: 2, 5: 2, 6: 2}
	wantWeights := map[int64]int64{1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 0}
	if !maps.Equal(c.Groups, wantGroups) || !maps.Equal(c.Weights, wantWeights) {
		t.Errorf("groups %v weights %v", c.Groups, c.Weights)
	}
	// Groups and weights are part of the membership two members compare.
	other := c
	other.Weights = map[int64]int64{1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 1, 7: 1}
	if c.MembershipKey() == other.MembershipKey() {
		t.Error("a different weight gives the same membership key")
	}
	// A server in two groups is refused by ZooKeeper: malformed here.
	bad, _ := ParseConf(strings.NewReader("membership: \nserver.1=h:1:2:participant\ngroup.1=1\ngroup.2=1\nversion=0"))
	if bad.Malformed != 1 {
		t.Errorf("a server in two groups: malformed %d, want 1", bad.Malformed)
	}
}

// hasPeerState: the reply has a zk_peer_state line (3.6+), a string the
// parser skips.
func hasPeerState(body []byte) bool { return bytes.Contains(body, []byte("zk_peer_state\t")) }

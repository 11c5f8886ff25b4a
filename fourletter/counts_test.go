package fourletter

import (
	"strings"
	"testing"
)

// insane are values ParseFloat or ParseInt accept that no ZooKeeper prints
// for a count: each must be malformed, never a number.
var insane = []string{"NaN", "+Inf", "-Inf", "-1", "1e300", "2.5"}

// TestSrvrCounts: srvr's counts are whole numbers from 0 up; its latencies
// are finite and not negative (the average has decimals since 3.6). A bad
// value is a malformed line and its Has flag stays false, so the collector
// sends no series for it.
func TestSrvrCounts(t *testing.T) {
	const head = "Zookeeper version: 3.8.0-1, built on 2024-02-12 22:16 UTC\nMode: follower\n"
	counts := []struct {
		line string
		has  func(Srvr) bool
	}{
		{"Received", func(s Srvr) bool { return s.HasReceived }},
		{"Sent", func(s Srvr) bool { return s.HasSent }},
		{"Connections", func(s Srvr) bool { return s.HasConnections }},
		{"Outstanding", func(s Srvr) bool { return s.HasOutstanding }},
		{"Node count", func(s Srvr) bool { return s.HasNodeCount }},
	}
	for _, c := range counts {
		for _, v := range insane {
			s, err := ParseSrvr(strings.NewReader(head + c.line + ": " + v + "\n"))
			if err != nil || c.has(s) || s.Malformed != 1 {
				t.Errorf("%s: %s taken (has %v, malformed %d, err %v)", c.line, v, c.has(s), s.Malformed, err)
			}
		}
		// The largest value a float64 holds exactly still counts.
		s, err := ParseSrvr(strings.NewReader(head + c.line + ": 9007199254740992\n"))
		if err != nil || !c.has(s) || s.Malformed != 0 {
			t.Errorf("%s: 2^53 refused (malformed %d, err %v)", c.line, s.Malformed, err)
		}
	}
	for _, v := range []string{"NaN", "+Inf", "-1", "1e300"} {
		for _, triple := range []string{v + "/1/2", "0/" + v + "/2", "0/1/" + v} {
			s, err := ParseSrvr(strings.NewReader(head + "Latency min/avg/max: " + triple + "\n"))
			if err != nil || s.HasLatency || s.Malformed != 1 || s.LatencyMin != 0 || s.LatencyAvg != 0 || s.LatencyMax != 0 {
				t.Errorf("latency %s taken: %+v %v", triple, s, err)
			}
		}
	}
	// 3.6+'s average with decimals is a latency, not a count.
	s, err := ParseSrvr(strings.NewReader(head + "Latency min/avg/max: 0/2.5/9\n"))
	if err != nil || !s.HasLatency || s.LatencyAvg != 2.5 {
		t.Errorf("average 2.5 refused: %+v %v", s, err)
	}
	// A zxid is hex of at most 64 bits.
	for _, z := range []string{"0x-1", "0x1ffffffffffffffff", "0x", "1e300", "NaN"} {
		s, err := ParseSrvr(strings.NewReader(head + "Zxid: " + z + "\n"))
		if err != nil || s.HasZxid || s.Malformed != 1 {
			t.Errorf("zxid %s taken: %+v %v", z, s, err)
		}
	}
}

// TestConfCounts: the numbers of conf that reach the quorum arithmetic
// (server ids, weights, the config version) are refused when no ZooKeeper
// would print them.
func TestConfCounts(t *testing.T) {
	const line = "server.1=10.0.0.1:2888:3888:participant;10.0.0.1:2181\n"
	for _, tc := range []struct {
		name, text string
		check      func(Conf) bool
	}{
		{"negative serverId", "serverId=-3\n", func(c Conf) bool { return c.ServerID == -1 }},
		{"serverId 1e300", "serverId=1e300\n", func(c Conf) bool { return c.ServerID == -1 }},
		{"negative server line", "serverId=1\nmembership: \nserver.-1=10.0.0.1:2888:3888:participant\n" + line + "version=0",
			func(c Conf) bool { return len(c.Servers) == 1 && c.Servers[0].ID == 1 }},
		{"weight past 2^31", "serverId=1\nmembership: \n" + line + "group.1=1\nweight.1=9223372036854775807\nversion=0",
			func(c Conf) bool { _, ok := c.Weights[1]; return !ok }},
		{"weight -1", "serverId=1\nmembership: \n" + line + "group.1=1\nweight.1=-1\nversion=0",
			func(c Conf) bool { _, ok := c.Weights[1]; return !ok }},
		{"weight 2.5", "serverId=1\nmembership: \n" + line + "group.1=1\nweight.1=2.5\nversion=0",
			func(c Conf) bool { _, ok := c.Weights[1]; return !ok }},
		{"weight of a negative id", "serverId=1\nmembership: \n" + line + "group.1=1\nweight.-1=1\nversion=0",
			func(c Conf) bool { return len(c.Weights) == 0 }},
		{"group of a negative id", "serverId=1\nmembership: \n" + line + "group.1=1:-2\nversion=0",
			func(c Conf) bool { _, ok := c.Groups[-2]; return !ok }},
		{"version NaN", "serverId=1\nmembership: \n" + line + "version=NaN", func(c Conf) bool { return c.ConfigVersion == "" }},
		{"version -1", "serverId=1\nmembership: \n" + line + "version=-1", func(c Conf) bool { return c.ConfigVersion == "" }},
		{"version past 64 bits", "serverId=1\nmembership: \n" + line + "version=1ffffffffffffffff", func(c Conf) bool { return c.ConfigVersion == "" }},
	} {
		c, err := ParseConf(strings.NewReader(tc.text))
		if err != nil || c.Malformed != 1 || !tc.check(c) {
			t.Errorf("%s: malformed %d, err %v: %+v", tc.name, c.Malformed, err, c)
		}
	}
	// The largest weight and a 64-bit version are ZooKeeper's own.
	c, err := ParseConf(strings.NewReader("serverId=1\nmembership: \n" + line + "group.1=1\nweight.1=2147483647\nversion=ffffffffffffffff"))
	if err != nil || c.Malformed != 0 || c.Weights[1] != 2147483647 || c.ConfigVersion != "ffffffffffffffff" {
		t.Errorf("bounds refused: %+v %v", c, err)
	}
}

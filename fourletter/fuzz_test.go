package fourletter

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// seedFixtures adds every recorded reply of a word as a seed.
func seedFixtures(f *testing.F, word string) {
	files, _ := filepath.Glob("testdata/*/*/*.txt")
	peers, _ := filepath.Glob("testdata/peers/*.txt")
	for _, file := range append(files, peers...) {
		if fixtureCommand(file) == word {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
	f.Add([]byte("This ZooKeeper instance is not currently serving requests\n"))
	f.Add([]byte(word + " is not executed because it is not in the whitelist.\n"))
	f.Add([]byte{})
}

func FuzzParseMntr(f *testing.F) {
	seedFixtures(f, "mntr")
	f.Add([]byte("zk_x{key=\"a\\\"b\",quantile=\"0.5\"}\t1\nzk_y NaN\nzk_z\t+Inf\n"))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := ParseMntr(bytes.NewReader(body))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, s := range m.Samples {
			if !validKey(s.Key) {
				t.Fatalf("invalid key %q", s.Key)
			}
			for _, l := range s.Labels {
				if !validKey(l.Name) {
					t.Fatalf("invalid label name %q", l.Name)
				}
			}
			id := s.Key + labelString(s.Labels)
			if seen[id] {
				t.Fatalf("duplicate sample %q", id)
			}
			seen[id] = true
		}
		again, _ := ParseMntr(bytes.NewReader(body))
		if !reflect.DeepEqual(m, again) && !hasNaN(m) {
			t.Fatal("parsing is not deterministic")
		}
	})
}

func labelString(ls []Label) string {
	var b strings.Builder
	for _, l := range ls {
		b.WriteString("," + l.Name + "=" + l.Value)
	}
	return b.String()
}

func hasNaN(m Mntr) bool {
	for _, s := range m.Samples {
		if s.Value != s.Value {
			return true
		}
	}
	return false
}

func FuzzParseSrvr(f *testing.F) {
	seedFixtures(f, "srvr")
	seedFixtures(f, "stat")
	f.Fuzz(func(t *testing.T, body []byte) {
		s, err := ParseSrvr(bytes.NewReader(body))
		if err == nil && s.Mode == "" {
			t.Fatal("no error and no mode")
		}
		if s.Malformed < 0 {
			t.Fatal("negative malformed count")
		}
		// Whatever the bytes, a count kept is a whole number from 0 and a
		// latency a finite one: never NaN, Inf or negative.
		for _, c := range []struct {
			v     float64
			has   bool
			whole bool
		}{{s.Received, s.HasReceived, true}, {s.Sent, s.HasSent, true}, {s.Connections, s.HasConnections, true},
			{s.Outstanding, s.HasOutstanding, true}, {s.NodeCount, s.HasNodeCount, true},
			{s.LatencyMin, s.HasLatency, false}, {s.LatencyAvg, s.HasLatency, false}, {s.LatencyMax, s.HasLatency, false}} {
			if c.has && (!(c.v >= 0 && c.v <= maxCount) || c.whole && c.v != math.Trunc(c.v)) {
				t.Fatalf("value %v kept in %+v", c.v, s)
			}
		}
	})
}

func FuzzParseConf(f *testing.F) {
	seedFixtures(f, "conf")
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := ParseConf(bytes.NewReader(body))
		if err != nil {
			return
		}
		if c.Voters()+c.Observers() != len(c.Servers) {
			t.Fatal("voters and observers do not add up")
		}
		for _, s := range c.Servers {
			if s.Role != "participant" && s.Role != "observer" {
				t.Fatalf("role %q", s.Role)
			}
			if s.Addresses == "" {
				t.Fatal("server line without address")
			}
			if s.ID < 0 {
				t.Fatalf("server id %d", s.ID)
			}
		}
		for id, w := range c.Weights {
			if id < 0 || w < 0 || w > maxWeight {
				t.Fatalf("weight.%d=%d kept", id, w)
			}
		}
		if c.ConfigVersion != "" && !validVersion(c.ConfigVersion) {
			t.Fatalf("version %q kept", c.ConfigVersion)
		}
		_ = c.MembershipKey()
	})
}

func FuzzParseRuok(f *testing.F) {
	seedFixtures(f, "ruok")
	f.Fuzz(func(t *testing.T, body []byte) {
		ok, err := ParseRuok(body)
		if ok != (err == nil) {
			t.Fatalf("ok %v with err %v", ok, err)
		}
	})
}

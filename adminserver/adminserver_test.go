package adminserver

import (
	"bytes"
	"os"
	"reflect"
	"testing"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

func read(t *testing.T, name string) []byte {
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMonitorMatchesMntr: the AdminServer's monitor and the 4lw mntr of the
// same server at (almost) the same moment carry the same keys.
func TestMonitorMatchesMntr(t *testing.T) {
	for _, role := range []string{"leader", "follower", "observer"} {
		m, err := ParseMonitor(read(t, "healthy-"+role+"-admin-monitor.json"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := os.ReadFile("../fourletter/testdata/3.8.0/healthy/" + role + "-mntr.txt")
		mntr, err := fourletter.ParseMntr(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		keys := func(ss []fourletter.Sample) map[string]bool {
			out := map[string]bool{}
			for _, s := range ss {
				out[s.Key] = true
			}
			return out
		}
		a, b := keys(m.Samples), keys(mntr.Samples)
		for k := range b {
			if !a[k] {
				t.Errorf("%s: mntr has %s, monitor does not", role, k)
			}
		}
		if m.ServerState != role || m.Version != mntr.Version || m.Malformed != 0 {
			t.Errorf("%s: state %q version %q malformed %d", role, m.ServerState, m.Version, m.Malformed)
		}
	}
	leader, _ := ParseMonitor(read(t, "healthy-leader-admin-monitor.json"))
	if v, ok := leader.Value("synced_followers"); !ok || v != 2 {
		t.Errorf("synced_followers %v", v)
	}
}

func TestVotingView(t *testing.T) {
	lines, err := ParseVotingView(read(t, "healthy-leader-admin-voting_view.json"))
	if err != nil {
		t.Fatal(err)
	}
	want := []fourletter.ServerLine{
		{ID: 1, Addresses: "127.0.0.1:22888:23888", Role: "participant", Raw: "server.1=127.0.0.1:22888:23888:participant"},
		{ID: 2, Addresses: "127.0.0.1:22889:23889", Role: "participant", Raw: "server.2=127.0.0.1:22889:23889:participant"},
		{ID: 3, Addresses: "127.0.0.1:22890:23890", Role: "participant", Raw: "server.3=127.0.0.1:22890:23890:participant"},
	}
	if !reflect.DeepEqual(lines, want) {
		t.Errorf("got %+v", lines)
	}
	if id, err := ParseServerID(read(t, "healthy-leader-admin-configuration.json")); err != nil || id != 2 {
		t.Errorf("server id %d %v", id, err)
	}
	if err := commandError(read(t, "quorum-lost-survivor-admin-configuration.json")); err != fourletter.ErrNotServing {
		t.Errorf("not serving: %v", err)
	}
	if _, err := ParseMonitor([]byte("<html>500</html>")); err == nil {
		t.Error("HTML accepted as monitor")
	}
}

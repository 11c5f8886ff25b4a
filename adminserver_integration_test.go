package main

import (
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// TestAdminServerSource: with only srvr whitelisted (the default since
// 3.5.3), --zookeeper.admin-port reads the AdminServer and gives the same
// metrics as mntr and conf give where they are allowed. Members sit on
// 127.0.0.1-4, sharing one AdminServer port, as separate hosts would.
func TestAdminServerSource(t *testing.T) {
	full := zkensemble.Start(t, zkensemble.Options{Voters: 3, Observers: 1, DistinctHosts: true})
	// A generous member deadline and a wait for every member's view: a
	// busy machine slows a JVM's first answers (the AdminServer's above
	// all), which says nothing about what the answers are.
	complete := func(s scrape) bool {
		for _, m := range full.Members {
			if _, ok := s.value("zookeeper_member_voters_configured", "server="+m.Addr()); !ok {
				return false
			}
		}
		return true
	}
	withMntr := startExporter(t, "--zookeeper.servers="+full.Servers(), "--zookeeper.ensemble=e", "--zookeeper.timeout=10s")
	want := withMntr.waitScrape(t, time.Minute, "every member's conf through mntr", complete)
	wantLeader := full.Leader()
	for _, m := range full.Members {
		m.Kill()
	}

	locked := zkensemble.Start(t, zkensemble.Options{Voters: 3, Observers: 1, DistinctHosts: true, DefaultWhitelist: true})
	admin := strconv.Itoa(locked.Members[0].Admin)
	withAdmin := startExporter(t, "--zookeeper.servers="+locked.Servers(), "--zookeeper.ensemble=e", "--zookeeper.admin-port="+admin, "--zookeeper.timeout=10s")
	got := withAdmin.waitScrape(t, time.Minute, "every member's view through the AdminServer", func(s scrape) bool {
		for _, m := range locked.Members {
			if _, ok := s.value("zookeeper_member_voters_configured", "server="+m.Addr()); !ok {
				return false
			}
		}
		return true
	})
	gotLeader := locked.Leader()

	// The same metric families, except what the AdminServer cannot say:
	// voting_view lists neither observers (they come from the configured
	// list) nor the config version.
	families := func(s scrape) map[string]bool {
		out := map[string]bool{}
		for _, n := range s.names() {
			if strings.HasPrefix(n, "zookeeper_") && !strings.HasPrefix(n, "zookeeper_exporter_") {
				out[n] = true
			}
		}
		return out
	}
	w, g := families(want), families(got)
	var missing, extra []string
	for n := range w {
		if !g[n] && n != "zookeeper_member_observers_configured" && n != "zookeeper_member_config_version" &&
			n != "zookeeper_ensemble_config_version" {
			missing = append(missing, n)
		}
	}
	for n := range g {
		if !w[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("metric families differ from mntr's: missing %v, extra %v", missing, extra)
	}
	t.Logf("%d metric families through the AdminServer, %d through mntr", len(g), len(w))

	// The same values, where a fresh ensemble's values do not depend on
	// timing.
	sameEverywhere := []string{"zookeeper_ensemble_voters", "zookeeper_ensemble_observers", "zookeeper_ensemble_quorum_size",
		"zookeeper_ensemble_voters_up", "zookeeper_ensemble_synced_voters", "zookeeper_ensemble_quorum",
		"zookeeper_ensemble_failure_tolerance", "zookeeper_ensemble_leaders", "zookeeper_ensemble_config_consistent"}
	for _, name := range sameEverywhere {
		wv, wok := want.value(name, "")
		gv, gok := got.value(name, "")
		if wok != gok || wv != gv {
			t.Errorf("%s: %v (present %v) through the AdminServer, %v (present %v) through mntr", name, gv, gok, wv, wok)
		}
	}
	for _, name := range []string{"zookeeper_voting_members", "zookeeper_learners", "zookeeper_synced_followers", "zookeeper_synced_observers", "zookeeper_pending_syncs", "zookeeper_znodes", "zookeeper_ephemerals"} {
		wv, _ := want.value(name, "server="+wantLeader.Addr())
		gv, ok := got.value(name, "server="+gotLeader.Addr())
		if !ok || wv != gv {
			t.Errorf("leader's %s: %v through the AdminServer, %v through mntr", name, gv, wv)
		}
	}
	for _, m := range locked.Members {
		got.expect(t, "zookeeper_four_letter_word_allowed{server="+m.Addr()+",command=mntr} 0",
			"zookeeper_member_voters_configured{server="+m.Addr()+"} 3",
			"zookeeper_server_state{server="+m.Addr()+",state="+m.Mode()+"} 1")
	}

	// Not serving: monitor answers HTTP 500, which is not_serving, not down.
	var followers []*zkensemble.Member
	for _, m := range locked.Members[:3] {
		if m != gotLeader {
			followers = append(followers, m)
		}
	}
	for _, f := range followers {
		f.Kill()
	}
	locked.WaitFor(15e9, "the leader to stop serving", func() bool { return gotLeader.Mode() == "not_serving" })
	// The observer may still say "observer" for a moment after the leader
	// stopped serving (it proves a leader until it notices): wait for the
	// ensemble's own view to settle, as an alert's for: would.
	s := withAdmin.waitScrape(t, time.Minute, "quorum 0 through the AdminServer", func(s scrape) bool {
		v, ok := s.value("zookeeper_ensemble_quorum", "")
		return ok && v == 0
	})
	s.expect(t, "zookeeper_up{server="+gotLeader.Addr()+"} 1", "zookeeper_serving{server="+gotLeader.Addr()+"} 0",
		"zookeeper_server_state{server="+gotLeader.Addr()+",state=not_serving} 1", "zookeeper_ensemble_quorum 0")
}

package main

import (
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// expectDiscovered: the exporter, given one seed, polls every member of e
// with its role.
func expectDiscovered(t *testing.T, x *exporter, e *zkensemble.Ensemble, voters, observers int) {
	t.Helper()
	s := x.waitScrape(t, 20*time.Second, "every member discovered and up", func(s scrape) bool {
		n, _ := s.value("zookeeper_ensemble_members", "")
		up := 0.0
		for _, m := range e.Members {
			v, _ := s.value("zookeeper_up", "server="+m.Addr())
			up += v
		}
		return int(n) == len(e.Members) && int(up) == len(e.Members)
	})
	s.expect(t, "zookeeper_ensemble_voters "+itoa(voters), "zookeeper_ensemble_observers "+itoa(observers),
		"zookeeper_ensemble_quorum 1", "zookeeper_ensemble_leaders 1")
	for _, m := range e.Members {
		s.expect(t, "zookeeper_server_state{server="+m.Addr()+",state="+m.Mode()+"} 1")
	}
}

// TestDiscovery gives the exporter one seed and --zookeeper.discover, with
// real ensembles: 3.5+ server lines that carry client addresses, the plain
// form (hosts from the quorum addresses, the seed's client port), a member
// added later, and the default whitelist (conf refused: /zookeeper/config).
func TestDiscovery(t *testing.T) {
	t.Run("server lines with client addresses", func(t *testing.T) {
		e := zkensemble.Start(t, zkensemble.Options{Voters: 3, Observers: 1, ClientInServerLines: true})
		x := startExporter(t, "--zookeeper.servers="+e.Members[1].Addr(), "--zookeeper.discover")
		expectDiscovered(t, x, e, 3, 1)
	})
	t.Run("plain server lines, a member added later", func(t *testing.T) {
		e := zkensemble.Start(t, zkensemble.Options{Voters: 3, DistinctHosts: true})
		x := startExporter(t, "--zookeeper.servers="+e.Members[0].Addr(), "--zookeeper.discover")
		expectDiscovered(t, x, e, 3, 0)
		// Add an observer: every voter learns of it by a rolling restart,
		// followers first and the leader last, then it starts.
		obs := e.AddMember(true)
		leader := e.Leader()
		for _, m := range append(e.Followers(), leader) {
			if m == obs {
				continue
			}
			restartWith(t, m, e.ServerLines())
			e.WaitServing(30*time.Second, m)
		}
		if err := obs.WriteConfig(e.ServerLines()); err != nil {
			t.Fatal(err)
		}
		if err := obs.Start(); err != nil {
			t.Fatal(err)
		}
		e.WaitServing(30*time.Second, e.Members...)
		expectDiscovered(t, x, e, 3, 1)
		t.Logf("the added observer %s was discovered without a restart of the exporter", obs.Addr())
	})
	t.Run("default whitelist: /zookeeper/config", func(t *testing.T) {
		e := zkensemble.Start(t, zkensemble.Options{Voters: 3, Observers: 1, ClientInServerLines: true, DefaultWhitelist: true})
		x := startExporter(t, "--zookeeper.servers="+e.Members[0].Addr(), "--zookeeper.discover")
		expectDiscovered(t, x, e, 3, 1)
	})
}

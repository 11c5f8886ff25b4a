package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// These scenarios check the answers no single server gives (quorum, failure
// tolerance, safe to stop) against real ensembles the exporter sees only in
// part, without roles marked, with hierarchical quorums and through live
// reconfiguration. Every expected value is computed by hand in the comment
// beside it.

func addrs(ms ...*zkensemble.Member) string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Addr())
	}
	return strings.Join(out, ",")
}

func sid(m *zkensemble.Member) string { return strconv.Itoa(m.ID) }

// logView logs what the exporter said, for the record beside the values
// computed by hand.
func logView(t *testing.T, s scrape, ensemble string) {
	t.Helper()
	var parts []string
	for _, n := range []string{"quorum", "voters", "observers", "quorum_size", "voters_up", "synced_voters", "failure_tolerance", "unwatched_voters"} {
		if v, ok := s.value("zookeeper_ensemble_"+n, "ensemble="+ensemble); ok {
			parts = append(parts, fmt.Sprintf("%s %v", n, v))
		}
	}
	if fam, ok := s.families["zookeeper_ensemble_member_safe_to_stop"]; ok {
		var safe []string
		for _, m := range fam.Metric {
			var server, ens string
			for _, l := range m.Label {
				switch l.GetName() {
				case "server":
					server = l.GetValue()
				case "ensemble":
					ens = l.GetValue()
				}
			}
			if ens == ensemble {
				safe = append(safe, fmt.Sprintf("%s=%v", server, m.Gauge.GetValue()))
			}
		}
		parts = append(parts, "safe_to_stop "+strings.Join(safe, " "))
	}
	t.Logf("exporter (%s): %s", ensemble, strings.Join(parts, ", "))
}

// roleOf splits an ensemble's serving members into leader, followers and
// observers as they say themselves.
func roleOf(t *testing.T, e *zkensemble.Ensemble) (leader *zkensemble.Member, followers, observers []*zkensemble.Member) {
	t.Helper()
	for _, m := range e.Members {
		switch m.Mode() {
		case "leader":
			leader = m
		case "follower":
			followers = append(followers, m)
		case "observer":
			observers = append(observers, m)
		}
	}
	if leader == nil {
		t.Fatal("no leader")
	}
	return leader, followers, observers
}

func statusMember(t *testing.T, servers, member string, wantExit int, wantText string) {
	t.Helper()
	out, code := runStatus(t, "--zookeeper.servers="+servers, "--zookeeper.timeout=2s", "--member="+member)
	if code != wantExit || !strings.Contains(out, wantText) {
		t.Errorf("status --member=%s: exit %d, want %d with %q:\n%s", member, code, wantExit, wantText, out)
	}
	t.Logf("status --member=%s (exit %d): %s", member, code, strings.TrimSpace(out))
}

// TestQuorumTruthPartialAndUnmarked: 5 voters + 1 observer (server lines
// with client addresses), seen four ways at once: two followers and the
// observer (as an exporter in one data centre sees them), all six with no
// :observer mark, /probe, and discovery from one seed.
func TestQuorumTruthPartialAndUnmarked(t *testing.T) {
	e := zkensemble.Start(t, zkensemble.Options{Voters: 5, Observers: 1, ClientInServerLines: true})
	leader, followers, observers := roleOf(t, e)
	if len(followers) != 4 || len(observers) != 1 {
		t.Fatalf("want 4 followers and 1 observer, got %d and %d", len(followers), len(observers))
	}
	obs := observers[0]
	watchedF := followers[:2]
	partialList := addrs(watchedF...) + "," + obs.Addr() + ":observer"
	var all []string
	for _, m := range e.Members {
		all = append(all, m.Addr()) // no :observer mark
	}
	unmarked := strings.Join(all, ",")

	partial := startExporter(t, "--zookeeper.servers="+partialList, "--zookeeper.ensemble=dc1")
	full := startExporter(t, "--zookeeper.servers="+unmarked, "--zookeeper.ensemble=all")
	seeded := startExporter(t, "--zookeeper.servers="+followers[0].Addr(), "--zookeeper.ensemble=seed", "--zookeeper.discover")

	t.Run("1 partial view, healthy", func(t *testing.T) {
		// Membership from conf: 5 voters, 1 observer, majority 3. The
		// exporter sees 2 voters serving: they prove a leader (quorum 1)
		// but not how many more are up, so the three it cannot see count
		// as down: tolerance 0 (a bare quorum is the worst case), within
		// the 0..2.
		s := partial.waitScrape(t, 60*time.Second, "quorum from the followers' evidence", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_quorum", "")
			n, _ := s.value("zookeeper_ensemble_voters_up", "")
			return v == 1 && n == 2
		})
		s.expect(t, "zookeeper_ensemble_quorum 1", "zookeeper_ensemble_voters 5", "zookeeper_ensemble_observers 1",
			"zookeeper_ensemble_quorum_size 3", "zookeeper_ensemble_failure_tolerance 0", "zookeeper_ensemble_members 3",
			"zookeeper_ensemble_voters_up 2", "zookeeper_ensemble_unwatched_voters 3", "zookeeper_ensemble_unwatched_observers 0",
			"zookeeper_ensemble_membership_info{source=conf,rule=majority} 1",
			"zookeeper_ensemble_server_watched{sid="+sid(leader)+",role=voter,server="+leader.Addr()+"} 0",
			"zookeeper_ensemble_server_watched{sid="+sid(obs)+",role=observer,server="+obs.Addr()+"} 1",
			"zookeeper_ensemble_member_safe_to_stop{server="+obs.Addr()+"} 1")
		logView(t, s, "dc1")
		for _, f := range watchedF {
			s.expect(t, "zookeeper_ensemble_server_watched{sid="+sid(f)+",role=voter,server="+f.Addr()+"} 1",
				"zookeeper_member_in_membership{server="+f.Addr()+"} 1", "zookeeper_member_role_mismatch{server="+f.Addr()+"} 0",
				"zookeeper_ensemble_member_safe_to_stop{server="+f.Addr()+"} 0")
		}
		statusMember(t, partialList, watchedF[0].Addr(), 1, "count as down")
	})

	t.Run("2 all six without marks, healthy", func(t *testing.T) {
		// 5 voters up and synced of 5: the fewest failures that break a
		// majority of 3 is 3, so the tolerance is 2; every member is safe.
		s := full.waitScrape(t, 60*time.Second, "5 synced voters", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_synced_voters", "")
			return v == 5
		})
		s.expect(t, "zookeeper_ensemble_voters 5", "zookeeper_ensemble_observers 1", "zookeeper_ensemble_quorum_size 3",
			"zookeeper_ensemble_failure_tolerance 2", "zookeeper_ensemble_quorum 1", "zookeeper_ensemble_unwatched_voters 0",
			"zookeeper_ensemble_member_safe_to_stop{server="+obs.Addr()+"} 1",
			"zookeeper_member_role_mismatch{server="+obs.Addr()+"} 1") // configured without :observer
		logView(t, s, "all")
		for _, m := range e.Members {
			s.expect(t, "zookeeper_ensemble_member_safe_to_stop{server="+m.Addr()+"} 1")
		}
		statusMember(t, unmarked, obs.Addr(), 0, "it is an observer")
	})

	t.Run("3 probe", func(t *testing.T) {
		// One follower alone proves a leader: quorum 1, from the
		// ensemble's membership 5 voters; the one voter seen leaves a
		// proven but possibly bare quorum: tolerance 0.
		s := full.waitPath(t, "/probe?target="+followers[0].Addr(), "the follower serving", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_quorum", "")
			return v == 1
		})
		s.expect(t, "zookeeper_ensemble_quorum{ensemble=all} 1", "zookeeper_ensemble_voters{ensemble=all} 5",
			"zookeeper_ensemble_failure_tolerance{ensemble=all} 0")
		logView(t, s, "all")
		// The unmarked list: roles from the ensemble. (Waits, as every
		// healthy check here: on a loaded machine the leader may count a
		// follower out for a moment.)
		s = full.waitPath(t, "/probe?target="+strings.ReplaceAll(unmarked, ",", "%2C"), "5 synced voters", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_synced_voters", "")
			return v == 5
		})
		s.expect(t, "zookeeper_ensemble_voters{ensemble=all} 5", "zookeeper_ensemble_observers{ensemble=all} 1",
			"zookeeper_ensemble_quorum_size{ensemble=all} 3", "zookeeper_ensemble_failure_tolerance{ensemble=all} 2",
			"zookeeper_server_state{server="+obs.Addr()+",state=observer} 1")
		logView(t, s, "all")
	})

	t.Run("4a discovery with client addresses", func(t *testing.T) {
		s := seeded.waitScrape(t, 60*time.Second, "all six discovered", func(s scrape) bool {
			n, _ := s.value("zookeeper_ensemble_members", "")
			v, _ := s.value("zookeeper_ensemble_synced_voters", "")
			return n == 6 && v == 5
		})
		s.expect(t, "zookeeper_ensemble_voters 5", "zookeeper_ensemble_observers 1", "zookeeper_ensemble_quorum 1",
			"zookeeper_ensemble_failure_tolerance 2", "zookeeper_ensemble_discovery_unaddressable_servers 0",
			"zookeeper_ensemble_unwatched_voters 0")
		logView(t, s, "seed")
		for _, m := range e.Members {
			s.expect(t, "zookeeper_up{server="+m.Addr()+"} 1")
		}
	})

	// Two voters outside the partial list die: 3 of 5 left, a bare
	// majority.
	for _, f := range followers[2:] {
		f.Kill()
	}
	t.Run("5 three of five left", func(t *testing.T) {
		// Partial view: still 2 voters seen and quorum proven: tolerance
		// 0, no watched voter safe to stop.
		s := partial.waitScrape(t, 60*time.Second, "both watched followers serving", func(s scrape) bool {
			n, _ := s.value("zookeeper_ensemble_voters_up", "")
			return n == 2
		})
		s.expect(t, "zookeeper_ensemble_quorum 1", "zookeeper_ensemble_failure_tolerance 0", "zookeeper_ensemble_voters 5")
		logView(t, s, "dc1")
		for _, f := range watchedF {
			s.expect(t, "zookeeper_ensemble_member_safe_to_stop{server="+f.Addr()+"} 0")
			statusMember(t, partialList, f.Addr(), 1, "no: do not stop "+f.Addr())
		}
		// Full view: the leader counts 3 synced voters: 3 - 3 = 0.
		s = full.waitScrape(t, 60*time.Second, "the leader to count 3 synced voters", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_synced_voters", "")
			return v == 3
		})
		s.expect(t, "zookeeper_ensemble_quorum 1", "zookeeper_ensemble_failure_tolerance 0", "zookeeper_ensemble_voters_up 3",
			"zookeeper_ensemble_member_safe_to_stop{server="+obs.Addr()+"} 1")
		logView(t, s, "all")
		for _, m := range append([]*zkensemble.Member{leader}, watchedF...) {
			s.expect(t, "zookeeper_ensemble_member_safe_to_stop{server="+m.Addr()+"} 0")
		}
		for _, f := range followers[2:] {
			// Already down: stopping them changes nothing.
			s.expect(t, "zookeeper_ensemble_member_safe_to_stop{server="+f.Addr()+"} 1")
		}
		statusMember(t, unmarked, watchedF[0].Addr(), 1, "no: do not stop")
	})

	leader.Kill()
	t.Run("6 leader killed too", func(t *testing.T) {
		// 2 of 5 voters: no quorum; the members reached answer and none
		// serves, so no voter counts as up: 0 - 3 = -3. They no longer
		// tell the membership: the one told before stands (5 voters).
		// The scrape that first sees quorum lost may still carry a conf
		// a member gave a moment before it stopped serving (srvr and conf
		// are asked at once): wait for both.
		s := partial.waitScrape(t, 20*time.Second, "quorum lost and the membership last known", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_quorum", "")
			known, _ := s.value("zookeeper_ensemble_membership_info", "source=last_known")
			return v == 0 && known == 1
		})
		s.expect(t, "zookeeper_ensemble_quorum 0", "zookeeper_ensemble_failure_tolerance -3", "zookeeper_ensemble_voters 5",
			"zookeeper_ensemble_quorum_size 3", "zookeeper_ensemble_membership_info{source=last_known} 1")
		logView(t, s, "dc1")
		for _, f := range watchedF {
			s.expect(t, "zookeeper_up{server="+f.Addr()+"} 1", "zookeeper_serving{server="+f.Addr()+"} 0",
				"zookeeper_ensemble_member_safe_to_stop{server="+f.Addr()+"} 0")
		}
	})
}

// TestQuorumTruthPlainLinesAndReconfig: plain server lines (no client
// addresses) on one host, so discovery cannot tell where the other members
// listen; then live reconfiguration removes a voter and adds one.
func TestQuorumTruthPlainLinesAndReconfig(t *testing.T) {
	e := zkensemble.Start(t, zkensemble.Options{Voters: 5, Observers: 1, Reconfig: true})
	leader, followers, _ := roleOf(t, e)
	seed := followers[0]
	x := startExporter(t, "--zookeeper.servers="+seed.Addr(), "--zookeeper.ensemble=plain", "--zookeeper.discover")

	t.Run("4b discovery from one seed, plain lines on one host", func(t *testing.T) {
		// The membership says 5 voters and 1 observer; only the seed can
		// be polled. It serves as follower: quorum 1; one voter seen of
		// 5: tolerance 0. The 5 others cannot be addressed.
		s := x.waitScrape(t, 20*time.Second, "the membership from the seed", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_voters", "")
			return v == 5
		})
		s.expect(t, "zookeeper_ensemble_voters 5", "zookeeper_ensemble_observers 1", "zookeeper_ensemble_quorum 1",
			"zookeeper_ensemble_quorum_size 3", "zookeeper_ensemble_failure_tolerance 0", "zookeeper_ensemble_members 1",
			"zookeeper_ensemble_discovery_unaddressable_servers 5", "zookeeper_ensemble_unwatched_voters 4")
		logView(t, s, "plain")
		if log := x.stderr.String(); strings.Count(log, "Cannot tell the client address") != 1 {
			t.Errorf("want the limitation logged once:\n%s", log)
		}
	})

	conn, _, err := zk.Connect([]string{leader.Addr()}, 5*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	configVersion := func(s scrape) float64 { v, _ := s.value("zookeeper_ensemble_config_version", ""); return v }
	before := configVersion(x.scrape("/metrics"))

	removed := followers[len(followers)-1]
	t.Run("6a reconfig removes a voter", func(t *testing.T) {
		if _, err := conn.IncrementalReconfig(nil, []string{sid(removed)}, -1); err != nil {
			t.Fatalf("reconfig -remove %d: %v", removed.ID, err)
		}
		// 4 voters: majority 3; the version is the zxid of the reconfig.
		s := x.waitScrape(t, 10*time.Second, "4 voters", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_voters", "")
			return v == 4
		})
		s.expect(t, "zookeeper_ensemble_voters 4", "zookeeper_ensemble_quorum_size 3", "zookeeper_ensemble_quorum 1")
		if v := configVersion(s); v <= before {
			t.Errorf("config version %v did not rise above %v", v, before)
		}
		t.Logf("after removing server %d: voters 4, quorum size 3, config version %#x (was %#x)", removed.ID, int64(configVersion(s)), int64(before))
		before = configVersion(s)
	})

	t.Run("6b reconfig adds a voter", func(t *testing.T) {
		added := e.AddMember(false)
		// A joining server starts with the current membership and itself.
		var lines []string
		for _, m := range e.Members {
			if m != removed {
				lines = append(lines, m.ServerLine())
			}
		}
		if err := added.WriteConfig(lines); err != nil {
			t.Fatal(err)
		}
		if err := added.Start(); err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("server.%d=127.0.0.1:%d:%d:participant;127.0.0.1:%d", added.ID, added.QuorumPort, added.ElectionPort, added.ClientPort)
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, err := conn.IncrementalReconfig([]string{line}, nil, -1)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("reconfig -add: %v", err)
			}
			time.Sleep(500 * time.Millisecond) // the new server is still starting
		}
		// Its server line tells its client address: discovery polls it.
		s := x.waitScrape(t, 20*time.Second, "5 voters again, the new one polled", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_voters", "")
			up, _ := s.value("zookeeper_serving", "server="+added.Addr())
			return v == 5 && configVersion(s) > before && up == 1
		})
		s.expect(t, "zookeeper_ensemble_voters 5", "zookeeper_ensemble_quorum_size 3", "zookeeper_ensemble_quorum 1",
			"zookeeper_ensemble_server_watched{sid="+sid(added)+",role=voter,server="+added.Addr()+"} 1",
			"zookeeper_ensemble_discovery_unaddressable_servers 4")
		s.absent(t, "zookeeper_ensemble_server_watched{sid="+sid(removed)+"}")
		t.Logf("after adding server %d: voters 5, quorum size 3, config version %#x", added.ID, int64(configVersion(s)))
	})
}

// TestQuorumTruthHierarchical: 6 voters in two groups of 3 (group.1=1:2:3,
// group.2=4:5:6) and a seventh voter of weight 0 in group 1. A quorum needs
// more than half of the weight (2 of 3) in both groups.
func TestQuorumTruthHierarchical(t *testing.T) {
	e := zkensemble.Start(t, zkensemble.Options{Voters: 7, Groups: map[int][]int{1: {1, 2, 3, 7}, 2: {4, 5, 6}}, Weights: map[int]int{7: 0}})
	servers := e.Servers()
	x := startExporter(t, "--zookeeper.servers="+servers, "--zookeeper.ensemble=hier")
	zero := e.Members[6]
	if os.Getenv("ZK_CAPTURE") != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		body, err := (&fourletter.Client{}).Do(ctx, e.Members[0].Addr(), "conf")
		cancel()
		os.WriteFile(os.Getenv("ZK_CAPTURE"), body, 0o644)
		t.Logf("conf of member 1 written to %s (%v)", os.Getenv("ZK_CAPTURE"), err)
	}

	t.Run("5 healthy: tolerance 1", func(t *testing.T) {
		// Breaking quorum takes 2 voters of one group: tolerance 1. The
		// fewest voters that form a quorum: 2 + 2 = 4.
		s := x.waitScrape(t, 60*time.Second, "7 synced voters", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_synced_voters", "")
			return v == 7
		})
		s.expect(t, "zookeeper_ensemble_membership_info{rule=hierarchical,source=conf} 1", "zookeeper_ensemble_voters 7",
			"zookeeper_ensemble_quorum_size 4", "zookeeper_ensemble_failure_tolerance 1", "zookeeper_ensemble_quorum 1")
		logView(t, s, "hier")
		for _, m := range e.Members {
			s.expect(t, "zookeeper_ensemble_member_safe_to_stop{server="+m.Addr()+"} 1")
		}
	})

	// One weight-1 member of group 1 down (not the leader, so the test
	// does not wait for an election).
	var down *zkensemble.Member
	for _, m := range e.Members[:3] {
		if m.Mode() == "follower" {
			down = m
			break
		}
	}
	down.Kill()
	t.Run("5 one of group 1 down", func(t *testing.T) {
		// Group 1 keeps 2 of 3 weight: one more loss there breaks it:
		// tolerance 0. Its other weight-1 voters are not safe to stop;
		// group 2 keeps 3 of 3, so its voters are; the weight-0 voter
		// never counts.
		s := x.waitScrape(t, 60*time.Second, "the leader to count 6 synced voters", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_synced_voters", "")
			return v == 6
		})
		s.expect(t, "zookeeper_ensemble_failure_tolerance 0", "zookeeper_ensemble_quorum 1", "zookeeper_ensemble_voters_up 6",
			"zookeeper_ensemble_member_safe_to_stop{server="+zero.Addr()+"} 1")
		logView(t, s, "hier")
		t.Logf("group 1: members 1-3 and 7 (weight 0, %s); member %d (%s) killed", zero.Addr(), down.ID, down.Addr())
		for _, m := range e.Members[:3] {
			if m == down {
				continue
			}
			s.expect(t, "zookeeper_ensemble_member_safe_to_stop{server="+m.Addr()+"} 0")
			statusMember(t, servers, m.Addr(), 1, "no: do not stop "+m.Addr())
		}
		for _, m := range e.Members[3:6] {
			s.expect(t, "zookeeper_ensemble_member_safe_to_stop{server="+m.Addr()+"} 1")
			statusMember(t, servers, m.Addr(), 0, "yes: "+m.Addr()+" may be stopped")
		}
		statusMember(t, servers, zero.Addr(), 0, "carries no weight")

		// The plan places every member and refuses the rest of group 1
		// (the same answers as --member); the down member goes first.
		p, raw, code := statusPlan(t, servers)
		t.Logf("status --plan (exit %d):\n%s", code, raw)
		table, _ := runStatus(t, "--zookeeper.servers="+servers, "--plan")
		t.Logf("status --plan:\n%s", table)
		if code != 0 || p.MustWait || len(p.Steps) != 7 || p.RestartOrder[0] != down.Addr() || p.Steps[6].State != "leader" {
			t.Errorf("plan: exit %d, must wait %v, order %v", code, p.MustWait, p.RestartOrder)
		}
		for _, st := range p.Steps {
			m := memberAt(t, e, st.Server)
			inGroup1 := m.ID <= 3 && m != down
			switch {
			case inGroup1 && (st.SafeToStop || !strings.Contains(st.StopReason, "its group would lose its majority")):
				t.Errorf("group 1 member %s in the plan: %+v", st.Server, st)
			case !inGroup1 && !st.SafeToStop:
				t.Errorf("%s may be stopped (group 2, weight 0 or down), the plan says: %+v", st.Server, st)
			}
		}
		out, code := runStatus(t, "--zookeeper.servers="+servers, "--wait", "--wait.timeout=3s")
		t.Logf("status --wait --wait.timeout=3s (exit %d):\n%s", code, out)
		if code != 1 || !strings.Contains(out, down.Addr()+": down (refused)") || !strings.Contains(out, "failure tolerance back to 1 (now 0)") {
			t.Errorf("want exit 1 naming %s", down.Addr())
		}
	})
}

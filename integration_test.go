package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// memberTimeout is the exporter's per-member deadline in these tests.
const memberTimeout = 2 * time.Second

// TestRealEnsemble runs the exporter against a real ZooKeeper ensemble (3
// voters + 1 observer, Debian's package) and breaks it for real: SIGSTOP,
// SIGKILL, restarts with other server lists. The scenarios share one
// ensemble and leave it healthy for the next, except the last.
func TestRealEnsemble(t *testing.T) {
	start := time.Now()
	e := zkensemble.Start(t, zkensemble.Options{Voters: 3, Observers: 1})
	t.Logf("3+1 ensemble serving after %v", time.Since(start).Round(time.Millisecond))
	x := startExporter(t, "--zookeeper.servers="+e.Servers(), "--zookeeper.ensemble=it", "--zookeeper.timeout="+memberTimeout.String())
	observer := e.Members[3]

	healthy := func(t *testing.T) scrape {
		t.Helper()
		return x.waitScrape(t, 30*time.Second, "a healthy ensemble (3 synced voters, 4 members up)", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_synced_voters", "")
			up := 0.0
			for _, m := range e.Members {
				u, _ := s.value("zookeeper_up", "server="+m.Addr())
				up += u
			}
			return v == 3 && up == 4
		})
	}

	t.Run("1 healthy", func(t *testing.T) {
		s := healthy(t)
		leader := e.Leader()
		for _, m := range e.Members {
			state := m.Mode()
			s.expect(t, "zookeeper_up{server="+m.Addr()+"} 1", "zookeeper_serving{server="+m.Addr()+"} 1",
				"zookeeper_server_state{server="+m.Addr()+",state="+state+"} 1",
				"zookeeper_ensemble_member_safe_to_stop{server="+m.Addr()+"} 1",
				"zookeeper_four_letter_word_allowed{server="+m.Addr()+",command=mntr} 1",
				"zookeeper_member_voters_configured{server="+m.Addr()+"} 3")
		}
		s.expect(t, "zookeeper_ensemble_leaders 1", "zookeeper_ensemble_leader_info{server="+leader.Addr()+"} 1",
			"zookeeper_ensemble_voters 3", "zookeeper_ensemble_observers 1", "zookeeper_ensemble_members 4",
			"zookeeper_ensemble_quorum_size 2", "zookeeper_ensemble_voters_up 3", "zookeeper_ensemble_synced_voters 3",
			"zookeeper_ensemble_quorum 1", "zookeeper_ensemble_failure_tolerance 1", "zookeeper_ensemble_config_consistent 1",
			"zookeeper_server_state{server="+observer.Addr()+",state=observer} 1",
			"zookeeper_server_info{server="+observer.Addr()+",version=3.8.0,server_id=4,peer_type=observer} 1",
			"zookeeper_voting_members{server="+leader.Addr()+"} 3", "zookeeper_synced_observers{server="+leader.Addr()+"} 1",
			"zookeeper_learners{server="+leader.Addr()+"} 3")
		t.Run("status", func(t *testing.T) {
			checkStatus(t, e.Servers(), 0, "HEALTHY")
			follower := e.Followers()[0]
			checkStatus(t, e.Servers(), 0, "yes: "+follower.Addr()+" may be stopped", "--member="+follower.Addr())
			out, code := runStatus(t, "--zookeeper.servers="+e.Servers(), "--output=json")
			var reports []map[string]any
			if err := json.Unmarshal([]byte(out), &reports); err != nil || code != 0 || reports[0]["quorum"] != true || reports[0]["voters_up"] != 3.0 {
				t.Errorf("status --output=json: exit %d, %v\n%s", code, err, out)
			}
		})
		t.Run("8 promtool check metrics", func(t *testing.T) {
			promtool, err := exec.LookPath("promtool")
			if err != nil {
				zkensemble.RequireTool(t, "promtool", err)
			}
			cmd := exec.Command(promtool, "check", "metrics")
			cmd.Stdin = strings.NewReader(string(x.scrape("/metrics").body))
			out, err := cmd.CombinedOutput()
			if err != nil || len(strings.TrimSpace(string(out))) != 0 {
				t.Errorf("promtool check metrics: %v\n%s", err, out)
			}
			t.Logf("promtool check metrics: no finding on a %d-family scrape", len(s.families))
		})
	})

	t.Run("4 hung member", func(t *testing.T) {
		hung := e.Followers()[0]
		hung.Pause()
		defer func() {
			hung.Resume()
			e.WaitServing(30*time.Second, hung)
			healthy(t)
		}()
		s := x.scrape("/metrics")
		// A hang check, not a timing one: make bench times it.
		if limit := memberTimeout + 15*time.Second; s.took > limit {
			t.Errorf("scrape with a hung member took %v, want under %v (one deadline plus margin)", s.took, limit)
		}
		t.Logf("scrape with one SIGSTOPped member took %v (deadline %v)", s.took.Round(time.Millisecond), memberTimeout)
		s.expect(t, "zookeeper_up{server="+hung.Addr()+"} 0", "zookeeper_serving{server="+hung.Addr()+"} 0",
			"zookeeper_server_state{server="+hung.Addr()+",state=unknown} 1", "zookeeper_ensemble_voters_up 2",
			"zookeeper_ensemble_members 4", "zookeeper_ensemble_leaders 1", "zookeeper_ensemble_quorum 1")
		for _, m := range e.Members {
			if m == hung {
				continue
			}
			s.expect(t, "zookeeper_up{server="+m.Addr()+"} 1", "zookeeper_serving{server="+m.Addr()+"} 1",
				"zookeeper_server_state{server="+m.Addr()+",state="+m.Mode()+"} 1",
				"zookeeper_member_voters_configured{server="+m.Addr()+"} 3")
			for _, name := range []string{"zookeeper_zxid_epoch", "zookeeper_outstanding_requests", "zookeeper_znodes", "zookeeper_uptime_seconds", "zookeeper_server_info"} {
				if _, ok := s.value(name, "server="+m.Addr()); !ok {
					t.Errorf("%s{server=%s} missing while another member hangs", name, m.Addr())
				}
			}
		}
		// The leader still counts the hung follower as synced for up to
		// syncLimit*tickTime; the exporter's count is the smaller one.
		s.expect(t, "zookeeper_ensemble_failure_tolerance 0")
		checkStatus(t, e.Servers(), 1, "down: timeout")
	})

	t.Run("2 one follower killed", func(t *testing.T) {
		dead := e.Followers()[0]
		dead.Kill()
		defer func() {
			if err := dead.Start(); err != nil {
				t.Fatal(err)
			}
			e.WaitServing(30*time.Second, dead)
			healthy(t)
		}()
		s := x.waitScrape(t, 15*time.Second, "the leader to drop the dead follower", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_synced_voters", "")
			return v == 2
		})
		s.expect(t, "zookeeper_up{server="+dead.Addr()+"} 0", "zookeeper_serving{server="+dead.Addr()+"} 0",
			"zookeeper_server_state{server="+dead.Addr()+",state=unknown} 1",
			"zookeeper_ensemble_voters_up 2", "zookeeper_ensemble_failure_tolerance 0", "zookeeper_ensemble_quorum 1",
			"zookeeper_ensemble_leaders 1", "zookeeper_ensemble_member_safe_to_stop{server="+observer.Addr()+"} 1")
		for _, m := range e.Members[:3] {
			if m != dead {
				s.expect(t, "zookeeper_ensemble_member_safe_to_stop{server="+m.Addr()+"} 0")
			}
		}
		checkStatus(t, e.Servers(), 1, "QUORUM AT RISK")
		other := e.Followers()[0]
		checkStatus(t, e.Servers(), 1, "no: do not stop "+other.Addr(), "--member="+other.Addr())
		checkStatus(t, e.Servers(), 0, "yes: "+dead.Addr(), "--member="+dead.Addr())
	})

	t.Run("5 leader killed", func(t *testing.T) {
		before := healthy(t)
		oldLeader := e.Leader()
		oldEpoch, _ := before.value("zookeeper_ensemble_epoch", "")
		before.expect(t, "zookeeper_ensemble_leader_info{server="+oldLeader.Addr()+"} 1")
		oldLeader.Kill()
		killed := time.Now()
		s := x.waitScrape(t, 30*time.Second, "a new leader", func(s scrape) bool {
			n, _ := s.value("zookeeper_ensemble_leaders", "")
			q, _ := s.value("zookeeper_ensemble_quorum", "")
			return n == 1 && q == 1
		})
		t.Logf("new leader seen by the exporter %v after the kill", time.Since(killed).Round(time.Millisecond))
		newLeader := e.Leader()
		if newLeader == nil || newLeader == oldLeader {
			t.Fatalf("no new leader")
		}
		s.expect(t, "zookeeper_ensemble_leader_info{server="+newLeader.Addr()+"} 1", "zookeeper_up{server="+oldLeader.Addr()+"} 0")
		s.absent(t, "zookeeper_ensemble_leader_info{server="+oldLeader.Addr()+"}")
		if epoch, _ := s.value("zookeeper_ensemble_epoch", ""); epoch <= oldEpoch {
			t.Errorf("ensemble_epoch %v did not rise above %v", epoch, oldEpoch)
		} else {
			t.Logf("ensemble_epoch %v -> %v", oldEpoch, epoch)
		}
		if err := oldLeader.Start(); err != nil {
			t.Fatal(err)
		}
		e.WaitServing(30*time.Second, oldLeader)
		healthy(t)
	})

	t.Run("7a member with an extra observer line", func(t *testing.T) {
		odd := e.Followers()[0]
		extra := fmt.Sprintf("server.9=127.0.0.1:%d:%d:observer", freePort(t), freePort(t))
		restartWith(t, odd, append(e.ServerLines(), extra))
		defer func() {
			restartWith(t, odd, e.ServerLines())
			e.WaitServing(30*time.Second, odd)
			healthy(t)
		}()
		e.WaitServing(30*time.Second, odd)
		s := x.waitScrape(t, 30*time.Second, "the odd member back as follower", func(s scrape) bool {
			v, _ := s.value("zookeeper_server_state", "server="+odd.Addr()+",state=follower")
			return v == 1
		})
		checkStatus(t, e.Servers(), 1, "members disagree on the server list")
		s.expect(t, "zookeeper_ensemble_config_consistent 0", "zookeeper_ensemble_quorum 1",
			"zookeeper_member_voters_configured{server="+odd.Addr()+"} 3",
			"zookeeper_member_observers_configured{server="+odd.Addr()+"} 2",
			"zookeeper_member_config_server_info{server="+odd.Addr()+",sid=9,role=observer} 1")
		for _, m := range e.Members {
			if m != odd {
				s.expect(t, "zookeeper_member_observers_configured{server="+m.Addr()+"} 1")
				s.absent(t, "zookeeper_member_config_server_info{server="+m.Addr()+",sid=9}")
			}
		}
	})

	t.Run("7b member believing in five voters", func(t *testing.T) {
		odd := e.Followers()[0]
		lines := e.ServerLines()
		// Member 4 as a voter, and a fifth voter nobody runs.
		lines[3] = strings.TrimSuffix(lines[3], ":observer")
		lines = append(lines, fmt.Sprintf("server.5=127.0.0.1:%d:%d", freePort(t), freePort(t)))
		restartWith(t, odd, lines)
		defer func() {
			restartWith(t, odd, e.ServerLines())
			e.WaitServing(30*time.Second, odd)
			healthy(t)
		}()
		e.WaitFor(30*time.Second, "the odd member to answer 'not serving'", func() bool { return odd.Mode() == "not_serving" })
		s := x.waitScrape(t, 20*time.Second, "the leader to count 2 synced voters", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_synced_voters", "")
			ns, _ := s.value("zookeeper_server_state", "server="+odd.Addr()+",state=not_serving")
			return v == 2 && ns == 1
		})
		s.expect(t, "zookeeper_up{server="+odd.Addr()+"} 1", "zookeeper_serving{server="+odd.Addr()+"} 0",
			"zookeeper_server_state{server="+odd.Addr()+",state=not_serving} 1",
			"zookeeper_ensemble_quorum 1", "zookeeper_ensemble_voters_up 2", "zookeeper_ensemble_voters 3",
			"zookeeper_ensemble_quorum_size 2", "zookeeper_ensemble_failure_tolerance 0", "zookeeper_ensemble_leaders 1",
			// It answers nothing but "not serving", conf included: its view
			// cannot be read, and the members that answer agree.
			"zookeeper_ensemble_config_consistent 1")
		s.absent(t, "zookeeper_member_voters_configured{server="+odd.Addr()+"}")
	})

	t.Run("3 two voters killed", func(t *testing.T) {
		healthy(t)
		followers := e.Followers()
		leader := e.Leader()
		for _, f := range followers {
			f.Kill()
		}
		e.WaitFor(15*time.Second, "the old leader to stop serving", func() bool { return leader.Mode() == "not_serving" })
		s := x.waitScrape(t, 15*time.Second, "quorum lost", func(s scrape) bool {
			v, _ := s.value("zookeeper_ensemble_quorum", "")
			return v == 0
		})
		s.expect(t, "zookeeper_ensemble_quorum 0", "zookeeper_ensemble_leaders 0", "zookeeper_ensemble_voters_up 0",
			"zookeeper_ensemble_failure_tolerance -2",
			"zookeeper_up{server="+leader.Addr()+"} 1", "zookeeper_serving{server="+leader.Addr()+"} 0",
			"zookeeper_server_state{server="+leader.Addr()+",state=not_serving} 1")
		for _, f := range followers {
			s.expect(t, "zookeeper_up{server="+f.Addr()+"} 0")
		}
		s.absent(t, "zookeeper_ensemble_synced_voters", "zookeeper_ensemble_epoch")
		checkStatus(t, e.Servers(), 2, "QUORUM LOST")
		checkStatus(t, e.Servers(), 1, "no: do not stop "+observer.Addr()+": the ensemble has no quorum", "--member="+observer.Addr())
	})
}

// TestRealEnsembleDefaultWhitelist: since 3.5.3 only srvr is allowed by
// default; state and quorum must still come out right from srvr alone.
func TestRealEnsembleDefaultWhitelist(t *testing.T) {
	e := zkensemble.Start(t, zkensemble.Options{Voters: 3, DefaultWhitelist: true})
	x := startExporter(t, "--zookeeper.servers="+e.Servers(), "--zookeeper.ensemble=wl")
	s := x.scrape("/metrics")
	leader := e.Leader()
	for _, m := range e.Members {
		s.expect(t, "zookeeper_four_letter_word_allowed{server="+m.Addr()+",command=mntr} 0",
			"zookeeper_four_letter_word_allowed{server="+m.Addr()+",command=conf} 0",
			"zookeeper_four_letter_word_allowed{server="+m.Addr()+",command=srvr} 1",
			"zookeeper_up{server="+m.Addr()+"} 1", "zookeeper_serving{server="+m.Addr()+"} 1",
			"zookeeper_server_state{server="+m.Addr()+",state="+m.Mode()+"} 1")
		for _, name := range []string{"zookeeper_packets_received_total", "zookeeper_latency_avg_seconds", "zookeeper_znodes", "zookeeper_zxid_epoch"} {
			if _, ok := s.value(name, "server="+m.Addr()); !ok {
				t.Errorf("%s{server=%s} missing: srvr has it", name, m.Addr())
			}
		}
	}
	s.expect(t, "zookeeper_ensemble_leader_info{server="+leader.Addr()+"} 1", "zookeeper_ensemble_leaders 1",
		"zookeeper_ensemble_voters_up 3", "zookeeper_ensemble_quorum 1", "zookeeper_ensemble_failure_tolerance 1")
	s.absent(t, "zookeeper_ensemble_synced_voters", "zookeeper_ensemble_config_consistent")
}

// runStatus runs "zookeeper_exporter status" (the test binary as the
// exporter) and returns its output and exit status.
func runStatus(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"status"}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	out, _ := cmd.CombinedOutput()
	return string(out), cmd.ProcessState.ExitCode()
}

// checkStatus runs status against the ensemble and checks exit and text.
func checkStatus(t *testing.T, servers string, wantExit int, wantText string, extra ...string) string {
	t.Helper()
	out, code := runStatus(t, append([]string{"--zookeeper.servers=" + servers, "--zookeeper.ensemble=it", "--zookeeper.timeout=" + memberTimeout.String()}, extra...)...)
	if code != wantExit || !strings.Contains(out, wantText) {
		t.Errorf("status %v: exit %d, want %d with %q:\n%s", extra, code, wantExit, wantText, out)
	}
	t.Logf("zookeeper_exporter status %s (exit %d):\n%s", strings.Join(extra, " "), code, out)
	return out
}

func restartWith(t *testing.T, m *zkensemble.Member, lines []string) {
	t.Helper()
	m.Kill()
	if err := m.WriteConfig(lines); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
}

// freePort is a port for a process started later: below the ephemeral
// range, so no outgoing connection takes it first.
func freePort(t testing.TB) int {
	t.Helper()
	return zkensemble.FreePorts(t, 1)[0]
}

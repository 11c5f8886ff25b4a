package status

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// told gives a snapshot the conf of an ensemble (server.id=host:...;addr
// for each address, observers marked) and, for a leader, its synced counts.
func told(t *testing.T, s ensemble.MemberSnapshot, id int, addrs []string, observers int, synced ...float64) ensemble.MemberSnapshot {
	t.Helper()
	if !s.Serving {
		return s
	}
	var lines []string
	for i, a := range addrs {
		role := "participant"
		if i >= len(addrs)-observers {
			role = "observer"
		}
		lines = append(lines, fmt.Sprintf("server.%d=%s:2888:3888:%s;%s", i+1, strings.Split(a, ":")[0], role, a))
	}
	c, err := fourletter.ParseConf(strings.NewReader(fmt.Sprintf("serverId=%d\npeerType=0\nmembership: \n%s\nversion=100000000", id, strings.Join(lines, "\n"))))
	if err != nil {
		t.Fatal(err)
	}
	s.Conf = &c
	if len(synced) == 2 {
		s.Mntr = &fourletter.Mntr{Samples: []fourletter.Sample{{Key: "synced_followers", Value: synced[0]}, {Key: "synced_observers", Value: synced[1]}}}
	}
	return s
}

var threeOne = []string{"a:1", "b:1", "c:1", "o:1"}

// ensembleOf is 3 voters + 1 observer in the given states (leader first).
func ensembleOf(t *testing.T, states ...string) ensemble.Result {
	var snaps []ensemble.MemberSnapshot
	for i, st := range states {
		s := member(threeOne[i], st, i == 3)
		if st == ensemble.StateLeader {
			up := 0.0
			for _, o := range states[1:3] {
				if o == ensemble.StateFollower {
					up++
				}
			}
			obs := 0.0
			if states[3] == ensemble.StateObserver {
				obs = 1
			}
			s = told(t, s, i+1, threeOne, 1, up, obs)
		} else {
			s = told(t, s, i+1, threeOne, 1)
		}
		snaps = append(snaps, s)
	}
	return result(snaps...)
}

func TestPlan(t *testing.T) {
	for _, tc := range []struct {
		name  string
		r     ensemble.Result
		order []string
		safe  []bool // by position
		wait  bool
		exit  int
	}{
		// Members listed leader first: the plan puts it last.
		{"healthy", ensembleOf(t, "leader", "follower", "follower", "observer"), []string{"o:1", "b:1", "c:1", "a:1"},
			[]bool{true, true, true, true}, false, Healthy},
		// The voter already down goes first among the voters; the others
		// are placed though they may not be stopped now.
		{"one voter down", ensembleOf(t, "leader", "follower", "down", "observer"), []string{"o:1", "c:1", "b:1", "a:1"},
			[]bool{true, true, false, false}, false, Healthy},
		{"observer down", ensembleOf(t, "leader", "follower", "follower", "down"), []string{"o:1", "b:1", "c:1", "a:1"},
			[]bool{true, true, true, true}, false, Healthy},
		// No observer, a voter down: the first step is that voter (safe:
		// it is out already).
		{"quorum lost", ensembleOf(t, "not_serving", "down", "not_serving", "down"), []string{"o:1", "a:1", "b:1", "c:1"},
			[]bool{false, false, false, false}, true, Lost},
		// Both in the same epoch: the first one listed is taken as the
		// current leader, the other goes before it.
		// A standalone server is placed with its reason; stopping it stops
		// the service, so it is never safe and the step must wait.
		{"standalone", result(member("s:1", "standalone", false)), []string{"s:1"}, []bool{false}, true, AtRisk},
		{"two leaders", ensembleOf(t, "leader", "leader", "follower", "observer"), []string{"o:1", "c:1", "b:1", "a:1"},
			[]bool{false, false, false, false}, true, AtRisk},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := PlanOf(tc.r)
			if !slices.Equal(p.RestartOrder, tc.order) {
				t.Errorf("order %v, want %v", p.RestartOrder, tc.order)
			}
			for i, s := range p.Steps {
				if s.Position != i+1 || s.Server != p.RestartOrder[i] || s.Why == "" || s.StopReason == "" {
					t.Errorf("step %d: %+v", i+1, s)
				}
				if i < len(tc.safe) && s.SafeToStop != tc.safe[i] {
					t.Errorf("step %d (%s): safe %v, want %v (%s)", i+1, s.Server, s.SafeToStop, tc.safe[i], s.StopReason)
				}
			}
			if p.FirstStepMustWait != tc.wait || p.Exit != tc.exit || (tc.wait && !strings.Contains(p.Wait, p.Steps[0].Server)) {
				t.Errorf("must wait %v (%q) exit %d, want %v %d", p.FirstStepMustWait, p.Wait, p.Exit, tc.wait, tc.exit)
			}
			var table bytes.Buffer
			if err := WritePlanTable(&table, []Plan{p}); err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(table.String(), "\n") {
				if len(line) > 80 {
					t.Errorf("line wider than 80 columns: %q", line)
				}
			}
			if tc.wait && !strings.Contains(table.String(), "WAIT: ") {
				t.Errorf("the table does not say the first step must wait:\n%s", table.String())
			}
			var js bytes.Buffer
			WritePlanJSON(&js, []Plan{p})
			var back struct {
				RestartOrder []string `json:"restart_order"`
				MustWait     bool     `json:"first_step_must_wait"`
			}
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || !slices.Equal(back.RestartOrder, tc.order) || back.MustWait != tc.wait {
				t.Errorf("json: %v %s", err, js.String())
			}
			t.Logf("\n%s", table.String())
		})
	}
}

// TestPlanMustWait: an exporter that watches only two followers of 5
// voters: the first follower may not be stopped (the unseen voters count
// as down), so the plan says the first step must wait.
func TestPlanMustWait(t *testing.T) {
	five := []string{"a:1", "b:1", "c:1", "d:1", "e:1", "o:1"}
	r := result(told(t, member("b:1", "follower", false), 2, five, 1), told(t, member("c:1", "follower", false), 3, five, 1))
	p := PlanOf(r)
	if !p.FirstStepMustWait || p.Exit != AtRisk || !strings.HasPrefix(p.Wait, "the first step must wait: b:1 may not be stopped now") || len(p.Unwatched) != 4 {
		t.Errorf("%+v", p)
	}
}

// fakeClock advances only when --wait sleeps (and a little per poll).
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time        { return c.now }
func (c *fakeClock) Sleep(d time.Duration) { c.now = c.now.Add(d) }

func TestWait(t *testing.T) {
	healthy := ensembleOf(t, "leader", "follower", "follower", "observer")
	oneDown := ensembleOf(t, "leader", "follower", "down", "observer")
	lost := ensembleOf(t, "not_serving", "down", "not_serving", "down")
	for _, tc := range []struct {
		name    string
		polls   []ensemble.Result // the last one repeats
		timeout time.Duration
		exit    int
		last    string // the last line starts so
		lines   int    // lines printed in all
	}{
		{"whole at once", []ensemble.Result{healthy}, time.Minute, Healthy, "whole after 0.0s: prod: 4 members serving", 1},
		{"whole after a restart", []ensemble.Result{oneDown, oneDown, oneDown, healthy}, time.Minute, Healthy, "whole after 3.0s", 2},
		// 5 polls a second apart, a line at once and none more (nothing
		// changed within 10 s), then the timeout's.
		{"one voter held down", []ensemble.Result{oneDown}, 5 * time.Second, AtRisk,
			"timeout after 5s, still waiting for: prod: c:1: down (refused); the leader to count every voter in sync (2 of 3); failure tolerance back to 1 (now 0)", 2},
		// An election (quorum lost for 3 polls) is waited through.
		{"the leader's election", []ensemble.Result{oneDown, lost, lost, lost, healthy}, time.Minute, Healthy, "whole after 4.0s", 3},
		{"quorum lost for good", []ensemble.Result{lost}, 10 * time.Minute, Lost, "QUORUM LOST for 30.0s, no election brought it back", 4},
		{"quorum lost at the timeout", []ensemble.Result{lost}, 5 * time.Second, Lost, "QUORUM LOST at the timeout (5s)", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{now: time.Unix(0, 0)}
			n := 0
			poll := func() []ensemble.Result {
				r := tc.polls[min(n, len(tc.polls)-1)]
				n++
				return []ensemble.Result{r}
			}
			var out bytes.Buffer
			code := Wait(&out, poll, tc.timeout, clock)
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if code != tc.exit || !strings.HasPrefix(lines[len(lines)-1], tc.last) || len(lines) != tc.lines {
				t.Errorf("exit %d, want %d with %q in %d lines:\n%s", code, tc.exit, tc.last, tc.lines, out.String())
			}
			t.Logf("\n%s", out.String())
		})
	}
}

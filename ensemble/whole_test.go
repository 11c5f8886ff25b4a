package ensemble

import (
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// leaderMntr is a leader's mntr with its synced counts.
func leaderMntr(followers, observers float64) func(*MemberSnapshot) {
	return func(s *MemberSnapshot) {
		s.Mntr = &fourletter.Mntr{Samples: []fourletter.Sample{{Key: "synced_followers", Value: followers}, {Key: "synced_observers", Value: observers}}}
	}
}

func zxidOf(z uint64) func(*MemberSnapshot) {
	return func(s *MemberSnapshot) { s.Srvr.Zxid = z }
}

func downErr(s *MemberSnapshot) { s.Err = syscall.ECONNREFUSED }

func TestFullFailureTolerance(t *testing.T) {
	for _, tc := range []struct {
		name  string
		lines []string
		want  int
	}{
		{"1 voter", plainLines(1, 0), 0},
		{"3 voters + 1 observer", plainLines(3, 1), 1},
		{"4 voters", plainLines(4, 0), 1},
		{"5 voters + 1 observer", plainLines(5, 1), 2},
		{"7 voters", plainLines(7, 0), 3},
		// Breaking quorum takes 2 voters of one group.
		{"two groups of 3", append(plainLines(6, 0), "group.1=1:2:3", "group.2=4:5:6"), 1},
		// Three groups of 3: break 2 groups, 2 voters each.
		{"three groups of 3", append(plainLines(9, 0), "group.1=1:2:3", "group.2=4:5:6", "group.3=7:8:9"), 3},
		// The weight-0 voter adds nothing.
		{"two groups, a weight-0 voter", append(plainLines(7, 0), "group.1=1:2:3:7", "group.2=4:5:6", "weight.7=0"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The full value does not depend on who is up: one member
			// answering is enough to tell the membership.
			v := Derive([]MemberSnapshot{snap(t, 1, StateFollower, tc.lines)}, nil)
			if v.FullFailureTolerance != tc.want {
				t.Errorf("full failure tolerance %d, want %d", v.FullFailureTolerance, tc.want)
			}
		})
	}
}

func TestMissing(t *testing.T) {
	three := plainLines(3, 1)
	other := append(plainLines(3, 1), "server.5=10.0.0.5:2888:3888:observer;10.0.0.5:2181")
	groups := append(plainLines(6, 0), "group.1=1:2:3", "group.2=4:5:6")
	healthy := func(opts ...func(*MemberSnapshot)) []MemberSnapshot {
		return []MemberSnapshot{
			snap(t, 1, StateLeader, three, append([]func(*MemberSnapshot){leaderMntr(2, 1)}, opts...)...),
			snap(t, 2, StateFollower, three), snap(t, 3, StateFollower, three), snap(t, 4, StateObserver, three, observerMark)}
	}
	for _, tc := range []struct {
		name  string
		snaps []MemberSnapshot
		mark  Mark
		want  []string // every one must be in the answer; nil: whole
	}{
		{"whole", healthy(), Mark{}, nil},
		{"a follower down", []MemberSnapshot{snap(t, 1, StateLeader, three, leaderMntr(1, 1)), snap(t, 2, StateFollower, three),
			snap(t, 3, StateUnknown, nil, downErr), snap(t, 4, StateObserver, three, observerMark)}, Mark{},
			[]string{"10.0.0.3:2181: down (refused)", "the leader to count every voter in sync (2 of 3)", "failure tolerance back to 1 (now 0)"}},
		{"a follower serving, not yet in the leader's count", []MemberSnapshot{snap(t, 1, StateLeader, three, leaderMntr(1, 1)),
			snap(t, 2, StateFollower, three), snap(t, 3, StateFollower, three), snap(t, 4, StateObserver, three, observerMark)}, Mark{},
			[]string{"the leader to count every voter in sync (2 of 3)", "failure tolerance back to 1 (now 0)"}},
		{"the observer not yet synced", healthy(leaderMntr(2, 0)), Mark{}, []string{"the leader to count every observer in sync (0 of 1)"}},
		{"the observer not serving", []MemberSnapshot{snap(t, 1, StateLeader, three, leaderMntr(2, 0)), snap(t, 2, StateFollower, three),
			snap(t, 3, StateFollower, three), snap(t, 4, StateNotServing, nil, observerMark)}, Mark{},
			[]string{"10.0.0.4:2181: not serving", "the leader to count every observer in sync (0 of 1)"}},
		// The leader at counter 0x10, the follower at 5: 11 behind.
		{"a lagging follower, no mark", []MemberSnapshot{snap(t, 1, StateLeader, three, leaderMntr(2, 1), zxidOf(0x100000010)),
			snap(t, 2, StateFollower, three), snap(t, 3, StateFollower, three, zxidOf(0x100000010)), snap(t, 4, StateObserver, three, observerMark, zxidOf(0x100000010))},
			Mark{}, []string{"10.0.0.2:2181: zxid to catch up with the leader's (lag 11)"}},
		// Past the leader's zxid of the previous poll: caught up, though
		// writes flow.
		{"behind by what is in flight, past the mark", []MemberSnapshot{snap(t, 1, StateLeader, three, leaderMntr(2, 1), zxidOf(0x100000010)),
			snap(t, 2, StateFollower, three), snap(t, 3, StateFollower, three, zxidOf(0x10000000f)), snap(t, 4, StateObserver, three, observerMark, zxidOf(0x100000008))},
			Mark{Zxid: 0x100000004, OK: true}, nil},
		{"behind the mark", []MemberSnapshot{snap(t, 1, StateLeader, three, leaderMntr(2, 1), zxidOf(0x100000010)),
			snap(t, 2, StateFollower, three), snap(t, 3, StateFollower, three, zxidOf(0x100000010)), snap(t, 4, StateObserver, three, observerMark, zxidOf(0x100000010))},
			Mark{Zxid: 0x100000008, OK: true}, []string{"10.0.0.2:2181: zxid to catch up with the leader's (lag 11)"}},
		// Right after an election, before the first write: the learners
		// keep the previous epoch's zxid and have everything.
		{"after an election, no write yet", healthy(zxidOf(0x200000000)), Mark{}, nil},
		// A member of the old epoch once the new one has writes: behind.
		{"old epoch after writes", healthy(zxidOf(0x200000003)), Mark{Zxid: 0x200000001, OK: true},
			[]string{"10.0.0.2:2181: zxid to catch up with the leader's (lag 3)", "10.0.0.4:2181: zxid to catch up with the leader's (lag 3)"}},
		{"the leader's mntr refused", []MemberSnapshot{snap(t, 1, StateLeader, three), snap(t, 2, StateFollower, three),
			snap(t, 3, StateFollower, three), snap(t, 4, StateObserver, three, observerMark)}, Mark{},
			[]string{"the leader's synced count (mntr not answered)"}},
		// 3.5: zk_synced_followers, no zk_synced_observers.
		{"a 3.5 leader", []MemberSnapshot{snap(t, 1, StateLeader, three, synced(2)), snap(t, 2, StateFollower, three),
			snap(t, 3, StateFollower, three), snap(t, 4, StateObserver, three, observerMark)}, Mark{}, nil},
		{"a 3.5 leader, the observer syncing", []MemberSnapshot{snap(t, 1, StateLeader, three, synced(2)), snap(t, 2, StateFollower, three),
			snap(t, 3, StateFollower, three), snap(t, 4, StateNotServing, nil, observerMark)}, Mark{}, []string{"10.0.0.4:2181: not serving"}},
		{"members disagree", []MemberSnapshot{snap(t, 1, StateLeader, three, leaderMntr(2, 1)), snap(t, 2, StateFollower, other),
			snap(t, 3, StateFollower, three), snap(t, 4, StateObserver, three, observerMark)}, Mark{},
			[]string{"the members to agree on the membership"}},
		{"no conf", []MemberSnapshot{snap(t, 1, StateLeader, three, leaderMntr(2, 1), func(s *MemberSnapshot) { s.Conf = nil }),
			snap(t, 2, StateFollower, nil), snap(t, 3, StateFollower, nil)}, Mark{}, []string{"the membership (no member tells it in conf)"}},
		{"partial view", []MemberSnapshot{snap(t, 2, StateFollower, three), snap(t, 3, StateFollower, three)}, Mark{},
			[]string{"a leader among the watched members", "server.1 (voter): not watched", "server.4 (observer): not watched"}},
		{"quorum lost", []MemberSnapshot{snap(t, 1, StateNotServing, nil), snap(t, 2, StateUnknown, nil, downErr), snap(t, 3, StateUnknown, nil, downErr)}, Mark{},
			[]string{"quorum (no serving leader with a quorum of synced voters)", "10.0.0.1:2181: not serving", "10.0.0.2:2181: down (refused)"}},
		// The membership is still told (a member answers conf while it
		// looks for a leader): no tolerance line below zero beside the
		// quorum line.
		{"quorum lost, the membership known", []MemberSnapshot{snap(t, 1, StateNotServing, three), snap(t, 2, StateUnknown, nil, downErr), snap(t, 3, StateUnknown, nil, downErr),
			snap(t, 4, StateNotServing, three, observerMark)}, Mark{},
			[]string{"quorum (no serving leader with a quorum of synced voters)", "a leader among the watched members", "10.0.0.1:2181: not serving", "10.0.0.2:2181: down (refused)", "10.0.0.3:2181: down (refused)", "10.0.0.4:2181: not serving"}},
		{"two leaders", []MemberSnapshot{snap(t, 1, StateLeader, three, leaderMntr(2, 1)), snap(t, 2, StateLeader, three, leaderMntr(2, 1)),
			snap(t, 3, StateFollower, three), snap(t, 4, StateObserver, three, observerMark)}, Mark{}, []string{"one leader (2 members report leader)"}},
		{"hierarchical, whole", []MemberSnapshot{snap(t, 1, StateLeader, groups, leaderMntr(5, 0)), snap(t, 2, StateFollower, groups),
			snap(t, 3, StateFollower, groups), snap(t, 4, StateFollower, groups), snap(t, 5, StateFollower, groups), snap(t, 6, StateFollower, groups)}, Mark{}, nil},
		{"hierarchical, one of a group down", []MemberSnapshot{snap(t, 1, StateLeader, groups, leaderMntr(4, 0)), snap(t, 2, StateFollower, groups),
			snap(t, 3, StateUnknown, nil, downErr), snap(t, 4, StateFollower, groups), snap(t, 5, StateFollower, groups), snap(t, 6, StateFollower, groups)}, Mark{},
			[]string{"10.0.0.3:2181: down (refused)", "the leader to count every voter in sync (5 of 6)", "failure tolerance back to 1 (now 0)"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewResult(Target{Name: "t"}, tc.snaps, nil, 0)
			got := r.Missing(tc.mark)
			if tc.want == nil && len(got) != 0 {
				t.Errorf("want whole, missing: %q", got)
			}
			if tc.want != nil && len(got) == 0 {
				t.Errorf("whole, want missing %q", tc.want)
			}
			for _, g := range got {
				if strings.Contains(g, "(now -") {
					t.Errorf("a tolerance below zero said: %q", g)
				}
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %q not said; said:\n%s", w, strings.Join(got, "\n"))
				}
			}
		})
	}
}

func TestLeaderMark(t *testing.T) {
	three := plainLines(3, 0)
	one := NewResult(Target{}, []MemberSnapshot{snap(t, 1, StateLeader, three, zxidOf(0x300000007)), snap(t, 2, StateFollower, three)}, nil, 0)
	if m := one.LeaderMark(); !m.OK || m.Zxid != 0x300000007 {
		t.Errorf("mark %+v, want the leader's zxid", m)
	}
	none := NewResult(Target{}, []MemberSnapshot{snap(t, 2, StateFollower, three), snap(t, 3, StateFollower, three)}, nil, 0)
	two := NewResult(Target{}, []MemberSnapshot{snap(t, 1, StateLeader, three), snap(t, 2, StateLeader, three)}, nil, 0)
	for _, r := range []Result{none, two} {
		if m := r.LeaderMark(); m.OK {
			t.Errorf("mark %+v without one leader", m)
		}
	}
}

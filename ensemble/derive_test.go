package ensemble

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// confOf builds a conf reply: serverId, then the membership lines.
func confOf(t *testing.T, id int, lines ...string) *fourletter.Conf {
	t.Helper()
	text := fmt.Sprintf("serverId=%d\npeerType=0\nmembership: \n%s\nversion=100000000", id, strings.Join(lines, "\n"))
	c, err := fourletter.ParseConf(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	return &c
}

func plainLines(voters, observers int) []string {
	var out []string
	for i := 1; i <= voters+observers; i++ {
		role := "participant"
		if i > voters {
			role = "observer"
		}
		out = append(out, fmt.Sprintf("server.%d=10.0.0.%d:2888:3888:%s;10.0.0.%d:2181", i, i, role, i))
	}
	return out
}

// snap is member id (10.0.0.id:2181) in state, telling the given lines.
func snap(t *testing.T, id int, state string, lines []string, opts ...func(*MemberSnapshot)) MemberSnapshot {
	s := MemberSnapshot{Member: config.Member{Address: fmt.Sprintf("10.0.0.%d:2181", id)}, State: state, Up: state != StateUnknown}
	s.Serving = s.provesLeader()
	if s.Serving && lines != nil {
		s.Conf = confOf(t, id, lines...)
		s.Srvr = &fourletter.Srvr{Mode: state, Zxid: 0x100000005, HasZxid: true}
	}
	for _, o := range opts {
		o(&s)
	}
	return s
}

func synced(n float64) func(*MemberSnapshot) {
	return func(s *MemberSnapshot) {
		s.Mntr = &fourletter.Mntr{Samples: []fourletter.Sample{{Key: "synced_followers", Value: n}}}
	}
}

func observerMark(s *MemberSnapshot) { s.Member.Observer = true }

func TestDerive(t *testing.T) {
	five := plainLines(5, 1)
	groups := append(plainLines(6, 0), "group.1=1:2:3", "group.2=4:5:6")
	for _, tc := range []struct {
		name       string
		snaps      []MemberSnapshot
		quorum     bool
		voters     int
		quorumSize int
		tolerance  int
		safe       []bool // per member
	}{
		{"partial: two followers and the observer of 5+1, healthy", []MemberSnapshot{
			snap(t, 2, StateFollower, five), snap(t, 3, StateFollower, five), snap(t, 6, StateObserver, five, observerMark)},
			// 2 voters seen of 5: quorum proven by the followers, the 3
			// unseen count as down: worst case a bare quorum.
			true, 5, 3, 0, []bool{false, false, true}},
		{"all six, unmarked, leader counts 5 synced", []MemberSnapshot{
			snap(t, 1, StateLeader, five, synced(4)), snap(t, 2, StateFollower, five), snap(t, 3, StateFollower, five),
			snap(t, 4, StateFollower, five), snap(t, 5, StateFollower, five), snap(t, 6, StateObserver, five)},
			true, 5, 3, 2, []bool{true, true, true, true, true, true}},
		{"three of five, leader counts 3", []MemberSnapshot{
			snap(t, 1, StateLeader, five, synced(2)), snap(t, 2, StateFollower, five), snap(t, 3, StateFollower, five),
			snap(t, 4, StateUnknown, nil), snap(t, 5, StateUnknown, nil), snap(t, 6, StateObserver, five)},
			true, 5, 3, 0, []bool{false, false, false, true, true, true}},
		{"a follower seen but not yet synced: the leader counts 4 of 5 seen", []MemberSnapshot{
			snap(t, 1, StateLeader, five, synced(3)), snap(t, 2, StateFollower, five), snap(t, 3, StateFollower, five),
			snap(t, 4, StateFollower, five), snap(t, 5, StateFollower, five)},
			// min(5 seen, 4 synced) - 3 = 1: each voter may stop.
			true, 5, 3, 1, []bool{true, true, true, true, true}},
		{"three members say leader: no safety answer", []MemberSnapshot{
			snap(t, 1, StateLeader, five, synced(4)), snap(t, 2, StateLeader, five), snap(t, 3, StateLeader, five),
			snap(t, 4, StateFollower, five), snap(t, 5, StateFollower, five)},
			true, 5, 3, 0, []bool{false, false, false, false, false}},
		{"synced_followers NaN is unknown, not a number", []MemberSnapshot{
			snap(t, 1, StateLeader, plainLines(3, 0), synced(math.NaN())), snap(t, 2, StateFollower, plainLines(3, 0)), snap(t, 3, StateFollower, plainLines(3, 0))},
			true, 3, 2, 1, []bool{true, true, true}},
		{"synced_followers 1e300 is unknown", []MemberSnapshot{
			snap(t, 1, StateLeader, plainLines(3, 0), synced(1e300)), snap(t, 2, StateFollower, plainLines(3, 0)), snap(t, 3, StateFollower, plainLines(3, 0))},
			true, 3, 2, 1, []bool{true, true, true}},
		{"synced_followers -1 is unknown", []MemberSnapshot{
			snap(t, 1, StateLeader, plainLines(3, 0), synced(-1)), snap(t, 2, StateFollower, plainLines(3, 0)), snap(t, 3, StateFollower, plainLines(3, 0))},
			true, 3, 2, 1, []bool{true, true, true}},
		{"synced_followers +Inf is unknown", []MemberSnapshot{
			snap(t, 1, StateLeader, plainLines(3, 0), synced(math.Inf(1))), snap(t, 2, StateFollower, plainLines(3, 0)), snap(t, 3, StateFollower, plainLines(3, 0))},
			true, 3, 2, 1, []bool{true, true, true}},
		{"synced_followers 1.5 is unknown", []MemberSnapshot{
			snap(t, 1, StateLeader, plainLines(3, 0), synced(1.5)), snap(t, 2, StateFollower, plainLines(3, 0)), snap(t, 3, StateFollower, plainLines(3, 0))},
			true, 3, 2, 1, []bool{true, true, true}},
		{"synced_followers 2.0 (3.6's float form) counts", []MemberSnapshot{
			snap(t, 1, StateLeader, plainLines(3, 0), synced(2.0)), snap(t, 2, StateFollower, plainLines(3, 0)), snap(t, 3, StateFollower, plainLines(3, 0))},
			true, 3, 2, 1, []bool{true, true, true}},
		{"leader counting fewer synced voters than a quorum", []MemberSnapshot{
			snap(t, 1, StateLeader, plainLines(3, 0), synced(0)), snap(t, 2, StateFollower, plainLines(3, 0)), snap(t, 3, StateUnknown, nil)},
			false, 3, 2, -1, []bool{false, false, false}},
		{"hierarchical 2x3, one of group 1 down", []MemberSnapshot{
			snap(t, 1, StateUnknown, nil), snap(t, 2, StateLeader, groups, synced(4)), snap(t, 3, StateFollower, groups),
			snap(t, 4, StateFollower, groups), snap(t, 5, StateFollower, groups), snap(t, 6, StateFollower, groups)},
			true, 6, 4, 0, []bool{true, false, false, true, true, true}},
		{"hierarchical 2x3, all up", []MemberSnapshot{
			snap(t, 1, StateFollower, groups), snap(t, 2, StateLeader, groups, synced(5)), snap(t, 3, StateFollower, groups),
			snap(t, 4, StateFollower, groups), snap(t, 5, StateFollower, groups), snap(t, 6, StateFollower, groups)},
			true, 6, 4, 1, []bool{true, true, true, true, true, true}},
		{"nobody answers", []MemberSnapshot{snap(t, 1, StateUnknown, nil), snap(t, 2, StateUnknown, nil), snap(t, 3, StateUnknown, nil)},
			false, 3, 2, -2, []bool{false, false, false}},
		{"srvr only (default whitelist): the configured list", []MemberSnapshot{
			snap(t, 1, StateLeader, nil), snap(t, 2, StateFollower, nil), snap(t, 3, StateFollower, nil), snap(t, 4, StateObserver, nil)},
			// The unmarked member 4 serves as an observer: it is one.
			true, 3, 2, 1, []bool{true, true, true, true}},
		{"standalone", []MemberSnapshot{snap(t, 1, StateStandalone, nil)}, true, 1, 1, 0, []bool{false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Derive(tc.snaps, nil)
			if v.Quorum != tc.quorum || v.Voters != tc.voters || v.QuorumSize != tc.quorumSize || v.FailureTolerance != tc.tolerance {
				t.Errorf("quorum %v voters %d quorum size %d tolerance %d; want %v %d %d %d",
					v.Quorum, v.Voters, v.QuorumSize, v.FailureTolerance, tc.quorum, tc.voters, tc.quorumSize, tc.tolerance)
			}
			for i, want := range tc.safe {
				if v.SafeToStop[i] != want {
					t.Errorf("member %s: safe to stop %v (%s), want %v", tc.snaps[i].Member.Address, v.SafeToStop[i], v.StopReason[i], want)
				}
				if v.StopReason[i] == "" {
					t.Errorf("member %d: no reason", i)
				}
			}
		})
	}
}

func TestReconcile(t *testing.T) {
	old := plainLines(3, 0)
	// A reconfiguration seen on one member first: the newer version wins.
	newer := confOf(t, 2, append(plainLines(3, 0), "server.4=10.0.0.4:2888:3888:participant;10.0.0.4:2181")...)
	newer.ConfigVersion = "100000002"
	s1, s2 := snap(t, 1, StateLeader, old), snap(t, 2, StateFollower, old)
	s2.Conf = newer
	v := Derive([]MemberSnapshot{s1, s2}, nil)
	if v.Voters != 4 || v.Membership.Version != "100000002" || v.ConfigConsistent {
		t.Errorf("voters %d version %q consistent %v; want 4, 100000002, false", v.Voters, v.Membership.Version, v.ConfigConsistent)
	}
	// Equal versions: the leader's view.
	odd := confOf(t, 2, append(plainLines(3, 0), "server.9=10.0.0.9:2888:3888:observer")...)
	s2.Conf = odd
	v = Derive([]MemberSnapshot{s2, s1}, nil)
	if v.Observers != 0 || v.Membership.Source != SourceConf {
		t.Errorf("observers %d source %s: want the leader's 0 observers from conf", v.Observers, v.Membership.Source)
	}
	// A member whose server id the ensemble does not name.
	stranger := snap(t, 7, StateFollower, nil)
	stranger.Conf = confOf(t, 7, "server.7=10.0.0.7:2888:3888:participant")
	v = Derive([]MemberSnapshot{s1, stranger}, nil)
	if v.InMembership[1] != 0 || v.InMembership[0] != 1 {
		t.Errorf("in membership %v, want [1 0]", v.InMembership)
	}
	// Nobody tells: the fallback (last known) stands.
	last := MembershipOf(confOf(t, 1, plainLines(5, 0)...), SourceLastKnown)
	v = Derive([]MemberSnapshot{snap(t, 1, StateNotServing, nil), snap(t, 2, StateNotServing, nil)}, &last)
	if v.Voters != 5 || v.Quorum || v.FailureTolerance != -3 {
		t.Errorf("voters %d quorum %v tolerance %d; want 5, false, -3", v.Voters, v.Quorum, v.FailureTolerance)
	}
}

// TestZxidLagAcrossEpochs: right after an election the followers keep the
// previous epoch's zxid until the first write.
func TestZxidLagAcrossEpochs(t *testing.T) {
	three := plainLines(3, 0)
	withZxid := func(z uint64) func(*MemberSnapshot) {
		return func(s *MemberSnapshot) { s.Srvr.Zxid = z }
	}
	for _, tc := range []struct {
		name           string
		leader, member uint64
		want           float64
	}{
		{"same epoch", 0x200000009, 0x200000004, 5},
		{"member a moment ahead", 0x200000004, 0x200000005, 0},
		{"new epoch, nothing written yet", 0x200000000, 0x100000017, 0},
		{"new epoch, 7 written: at least 7 behind", 0x200000007, 0x100000017, 7},
		{"two epochs behind", 0x300000002, 0x100000017, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Derive([]MemberSnapshot{
				snap(t, 1, StateLeader, three, withZxid(tc.leader)),
				snap(t, 2, StateFollower, three, withZxid(tc.member)),
				snap(t, 3, StateFollower, three, withZxid(tc.leader)),
			}, nil)
			if !v.HasLag[1] || v.ZxidLag[1] != tc.want {
				t.Errorf("lag %v (known %v), want %v", v.ZxidLag[1], v.HasLag[1], tc.want)
			}
			if !v.HasLag[0] || v.ZxidLag[0] != 0 || v.MaxZxidLag != tc.want {
				t.Errorf("leader lag %v, max %v", v.ZxidLag[0], v.MaxZxidLag)
			}
		})
	}
	// A member in a newer epoch than the leader reached (that leader is
	// stale): no lag is claimed.
	v := Derive([]MemberSnapshot{
		snap(t, 1, StateLeader, three, withZxid(0x100000005)),
		snap(t, 2, StateFollower, three, withZxid(0x200000001)),
	}, nil)
	if v.HasLag[1] {
		t.Errorf("lag %v claimed for a member in a newer epoch", v.ZxidLag[1])
	}
}

// TestDeriveCounts: a leader's zk_synced_followers that is not a sane whole
// count is unknown. Before, NaN or 1e300 went through int() and gave
// synced_voters -9.2e18, failure_tolerance 9.2e18 and quorum 0 for three
// voters up with one leader: a false QuorumLost page. The reply goes
// through the real parser, as a member would send it.
func TestDeriveCounts(t *testing.T) {
	three := plainLines(3, 0)
	for _, tc := range []struct {
		value     string
		synced    int // -1: unknown
		tolerance int
	}{
		{"NaN", -1, 1}, {"+Inf", -1, 1}, {"-Inf", -1, 1}, {"-1", -1, 1}, {"1e300", -1, 1}, {"-1e300", -1, 1},
		{"2.5", -1, 1}, {"1.5", -1, 1}, {"1048576", -1, 1},
		{"2", 3, 1}, {"2.0", 3, 1}, {"1", 2, 0},
	} {
		t.Run(tc.value, func(t *testing.T) {
			m, err := fourletter.ParseMntr(strings.NewReader("zk_version\t3.8.0\nzk_server_state\tleader\nzk_synced_followers\t" + tc.value + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			leader := snap(t, 1, StateLeader, three, func(s *MemberSnapshot) { s.Mntr = &m })
			v := Derive([]MemberSnapshot{leader, snap(t, 2, StateFollower, three), snap(t, 3, StateFollower, three)}, nil)
			if !v.Quorum || v.VotersUp != 3 || v.QuorumSize != 2 || v.FailureTolerance != tc.tolerance {
				t.Errorf("quorum %v voters up %d quorum size %d tolerance %d; want true 3 2 %d", v.Quorum, v.VotersUp, v.QuorumSize, v.FailureTolerance, tc.tolerance)
			}
			switch {
			case tc.synced < 0 && v.HasSynced:
				t.Errorf("synced voters %d believed", v.SyncedVoters)
			case tc.synced >= 0 && (!v.HasSynced || v.SyncedVoters != tc.synced):
				t.Errorf("synced voters %d (known %v), want %d", v.SyncedVoters, v.HasSynced, tc.synced)
			}
		})
	}
}

// TestDeriveHierarchicalBounds: weights no ZooKeeper prints never reach the
// quorum sums (the parser refuses them), so two huge weights cannot
// overflow a group's weight into a negative one.
func TestDeriveHierarchicalBounds(t *testing.T) {
	lines := append(plainLines(3, 0), "group.1=1:2:3", "weight.1=9223372036854775807", "weight.2=9223372036854775807")
	s := []MemberSnapshot{snap(t, 1, StateLeader, lines, synced(2)), snap(t, 2, StateFollower, lines), snap(t, 3, StateFollower, lines)}
	if s[0].Conf.Malformed != 2 {
		t.Fatalf("malformed %d, want the two weights", s[0].Conf.Malformed)
	}
	v := Derive(s, nil)
	// The weights left are 1 each: one group of three, two needed.
	if !v.Quorum || v.QuorumSize != 2 || v.FailureTolerance != 1 {
		t.Errorf("quorum %v size %d tolerance %d; want true 2 1", v.Quorum, v.QuorumSize, v.FailureTolerance)
	}
}

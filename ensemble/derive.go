package ensemble

import (
	"fmt"
	"math"
	"slices"
)

// View is what one consistent snapshot of every watched member says about
// the ensemble as a whole. It is derived by the exporter, not in PromQL,
// because members scraped at different instants cannot say "exactly one
// leader" or "quorum held" reliably.
type View struct {
	Members int
	// Membership is the ensemble's own (or, when nobody told it, the
	// exporter's list); every count below is of it.
	Membership Membership
	Voters     int
	Observers  int
	// QuorumSize is the fewest voters that can form a quorum under the
	// ensemble's rule: floor(voters/2)+1 for a majority.
	QuorumSize int
	// VotersUp counts watched voters that serve as leader, follower or
	// standalone.
	VotersUp int
	// SyncedVoters is the leader's zk_synced_followers + 1: ZooKeeper's own
	// count of voters in sync. HasSynced is false without a leader's mntr.
	SyncedVoters int
	HasSynced    bool
	Leaders      []string // watched members reporting leader
	Leader       int      // index of the current leader in the snapshot, -1 if none
	Epoch        uint64
	HasEpoch     bool
	// Quorum is decided on evidence: a serving learner proves a leader,
	// members that answer and none serves prove there is none.
	Quorum bool
	// FailureTolerance is how many more voter failures the ensemble
	// survives for sure: the fewest further failures that can break quorum
	// under its rule, minus one. A voter the exporter cannot see counts as
	// down. Negative: short of quorum by that many voters.
	FailureTolerance int
	// FullFailureTolerance is the tolerance with every voter of the
	// membership up and in sync: what FailureTolerance returns to once a
	// rolling restart's member is back (3 voters: 1; 5: 2; two groups of
	// 3: 1).
	FullFailureTolerance int
	// SyncedObservers is the leader's zk_synced_observers (valid with
	// HasSyncedObservers): how many observers the leader feeds.
	SyncedObservers    int
	HasSyncedObservers bool
	// Per watched member, by index: its role, the server of the membership
	// it is (-1: not known), whether stopping it now is safe and why.
	Roles      []string
	ServerOf   []int
	SafeToStop []bool
	StopReason []string
	// InMembership: 1 the ensemble names the member, 0 it does not (the
	// member says a server id the membership lacks), -1 not known.
	InMembership []int
	// RoleMismatch: the configured :observer mark contradicts the role the
	// ensemble gives; RoleKnown says whether the ensemble's role is known.
	RoleMismatch []bool
	RoleKnown    []bool
	// Unwatched lists the servers of the membership (indexes) that no
	// watched member is: the exporter's view is partial.
	Unwatched []int
	// ZxidLag by member index; valid where HasLag is true.
	ZxidLag []float64
	HasLag  []bool
	// MaxZxidLag is the largest lag, valid when any member has one.
	MaxZxidLag float64
	// ConfigConsistent: every member that answered conf with a membership
	// block reports the same one. HasConfig is false when none did.
	ConfigConsistent bool
	HasConfig        bool
}

// UnwatchedVoters counts the voters of the membership no watched member is.
func (v View) UnwatchedVoters() int {
	n := 0
	for _, j := range v.Unwatched {
		if v.Membership.Servers[j].Role == RoleVoter {
			n++
		}
	}
	return n
}

// Derive computes the ensemble view from one poll of every watched member.
// fallback is the membership to use when no member tells its own now (the
// /zookeeper/config znode, or the one told at an earlier poll: members
// that stop serving stop telling it); nil for the configured list.
func Derive(snaps []MemberSnapshot, fallback *Membership) View {
	n := len(snaps)
	v := View{Members: n, Leader: -1, Roles: make([]string, n), ServerOf: make([]int, n), SafeToStop: make([]bool, n),
		StopReason: make([]string, n), InMembership: make([]int, n), RoleMismatch: make([]bool, n), RoleKnown: make([]bool, n),
		ZxidLag: make([]float64, n), HasLag: make([]bool, n)}
	m, _ := reconcile(snaps, fallback)
	v.Membership = m
	rule := m.Rule
	v.Voters, v.Observers = m.Voters(), m.Observers()
	v.QuorumSize = max(rule.MinQuorum(), 0)
	v.FullFailureTolerance = rule.Margin(rule.voters)
	v.ServerOf = match(snaps, m)

	// Each member's role and server id in the quorum arithmetic. For a
	// majority only the count matters, so a serving voter the exporter
	// cannot place takes the place of a voter it cannot see; under a
	// hierarchical rule its group is unknown and it counts for nothing.
	sid := make([]int64, n)
	placed := make([]bool, n)
	watched := make([]bool, len(m.Servers))
	for _, j := range v.ServerOf {
		if j >= 0 {
			watched[j] = true
		}
	}
	free := []int64{}
	for j, s := range m.Servers {
		if !watched[j] && s.Role == RoleVoter {
			free = append(free, s.ID)
		}
	}
	for i, s := range snaps {
		v.InMembership[i] = -1
		switch j := v.ServerOf[i]; {
		case j >= 0:
			srv := m.Servers[j]
			v.Roles[i], sid[i], placed[i] = srv.Role, srv.ID, true
			v.RoleKnown[i] = true
			if m.FromEnsemble() {
				v.InMembership[i] = 1
			}
		case s.votes():
			v.Roles[i], v.RoleKnown[i] = RoleVoter, true
			if !rule.IsHierarchical() && len(free) > 0 {
				sid[i], placed[i], free = free[0], true, free[1:]
			}
		case s.State == StateObserver:
			v.Roles[i], v.RoleKnown[i] = RoleObserver, true
		default:
			v.Roles[i] = configuredRole(s.Member)
		}
		if m.FromEnsemble() && v.ServerOf[i] < 0 && s.Conf != nil && s.Conf.HasMembership && m.index(s.Conf.ServerID) < 0 {
			v.InMembership[i] = 0 // it says who it is, and the ensemble does not name it
		}
		v.RoleMismatch[i] = v.RoleKnown[i] && v.Roles[i] != configuredRole(s.Member)
	}
	if m.FromEnsemble() {
		for j := range m.Servers {
			if !watched[j] {
				v.Unwatched = append(v.Unwatched, j)
			}
		}
	}

	var up []int64
	for i, s := range snaps {
		if placed[i] && v.Roles[i] == RoleVoter && s.votes() && !slices.Contains(up, sid[i]) {
			up = append(up, sid[i])
		}
		if v.Roles[i] == RoleVoter && s.votes() {
			v.VotersUp++
		}
	}

	for i, s := range snaps {
		if s.State != StateLeader {
			continue
		}
		v.Leaders = append(v.Leaders, s.Member.Address)
		// With more than one leader (a split view), the one in the newest
		// epoch is the current one.
		if v.Leader < 0 || zxid(snaps[i]) > zxid(snaps[v.Leader]) {
			v.Leader = i
		}
	}
	evidence := false
	for _, s := range snaps {
		evidence = evidence || s.provesLeader()
	}
	if v.Leader >= 0 {
		leader := snaps[v.Leader]
		if leader.Srvr != nil && leader.Srvr.HasZxid {
			v.Epoch, v.HasEpoch = leader.Srvr.ZxidEpoch(), true
		}
		if leader.Mntr != nil {
			if f, ok := leader.Mntr.Value("synced_followers"); ok && saneCount(f) {
				v.SyncedVoters, v.HasSynced = int(f)+1, true
			}
			if f, ok := leader.Mntr.Value("synced_observers"); ok && saneCount(f) {
				v.SyncedObservers, v.HasSyncedObservers = int(f), true
			}
		}
	}
	// A leader reached that counts fewer synced voters than any quorum
	// needs is about to step down: that is evidence against quorum.
	v.Quorum = evidence && !(v.HasSynced && v.SyncedVoters < v.QuorumSize)

	// The voters that count: those seen serving, less the ones the leader
	// does not count as synced (which ones is not known: the worst). A hung
	// follower keeps its place in the leader's count for syncLimit*tickTime;
	// one that answers but is still syncing is not in it at all.
	unsynced := 0
	if v.HasSynced {
		unsynced = max(0, len(up)-v.SyncedVoters)
	}
	counted := rule.WorstSubset(up, unsynced)
	v.FailureTolerance = rule.Margin(counted)
	switch {
	case v.Quorum && v.FailureTolerance < 0:
		// Quorum is proven by voters the exporter does not see: it may
		// be a bare one.
		v.FailureTolerance = 0
	case !v.Quorum && v.FailureTolerance >= 0:
		v.FailureTolerance = -1
	}
	if len(v.Leaders) > 1 {
		v.FailureTolerance = min(v.FailureTolerance, 0)
	}

	for i, s := range snaps {
		v.SafeToStop[i], v.StopReason[i] = v.mayStop(i, s, rule, up, sid[i], placed[i], len(counted))
	}

	// Lag: within the leader's epoch, the difference of the counters.
	// Right after an election the followers keep the previous epoch's zxid
	// until the first write: with the leader's counter still 0 they have
	// everything (lag 0); above 0, a member still in an older epoch has
	// applied none of the new epoch's transactions, so it is at least the
	// leader's counter behind (that lower bound is the lag given).
	if v.Leader >= 0 && snaps[v.Leader].Srvr != nil && snaps[v.Leader].Srvr.HasZxid {
		leader := snaps[v.Leader].Srvr
		for i, s := range snaps {
			if s.Srvr == nil || !s.Srvr.HasZxid || !s.provesLeader() || s.Srvr.ZxidEpoch() > leader.ZxidEpoch() {
				continue
			}
			lag := float64(leader.ZxidCounter())
			if s.Srvr.ZxidEpoch() == leader.ZxidEpoch() {
				lag -= float64(s.Srvr.ZxidCounter())
			}
			if lag < 0 {
				// The member was asked a moment after the leader.
				lag = 0
			}
			v.ZxidLag[i], v.HasLag[i] = lag, true
			if lag > v.MaxZxidLag {
				v.MaxZxidLag = lag
			}
		}
	}

	// Membership: members that answered conf are compared with each other;
	// only when none did, the AdminServer's voting views (voters only).
	for _, fromAdmin := range []bool{false, true} {
		var first string
		for _, s := range snaps {
			if s.Conf == nil || !s.Conf.HasMembership || s.ConfFromAdmin != fromAdmin {
				continue
			}
			key := s.Conf.MembershipKey()
			if !v.HasConfig {
				first, v.HasConfig, v.ConfigConsistent = key, true, true
			} else if key != first {
				v.ConfigConsistent = false
			}
		}
		if v.HasConfig {
			break
		}
	}
	return v
}

// mayStop answers "may member i be stopped now?" and says why.
func (v View) mayStop(i int, s MemberSnapshot, rule Rule, up []int64, sid int64, placed bool, counted int) (bool, string) {
	partial := ""
	if n := v.UnwatchedVoters(); n > 0 {
		partial = fmt.Sprintf("; %d voter(s) of the ensemble are not watched (or not matched to a watched member) and count as down", n)
	}
	switch {
	case !v.Quorum:
		return false, "the ensemble has no quorum now: fix that first"
	case len(v.Leaders) > 1:
		return false, fmt.Sprintf("%d members claim leadership: no answer is safe until one leader remains", len(v.Leaders))
	case v.Roles[i] == RoleObserver:
		return true, "it is an observer and the ensemble has quorum"
	case !s.votes():
		return true, "it is not part of the quorum now, and quorum holds without it"
	case !placed:
		return false, "its place in the ensemble's quorum is unknown (its server id and group are not known)"
	case !rule.Counts(sid):
		return true, "it carries no weight in the ensemble's quorum (weight 0 or in no group), and quorum holds without it"
	}
	rest := slices.DeleteFunc(slices.Clone(up), func(id int64) bool { return id == sid })
	without := rule.WorstSubset(rest, len(rest)-max(counted-1, 0))
	if rule.HasQuorum(without) {
		if rule.IsHierarchical() {
			return true, fmt.Sprintf("quorum holds without it: its group keeps its majority (the failure tolerance, %d, is the weakest group's)", v.FailureTolerance)
		}
		return true, fmt.Sprintf("quorum holds without it (failure tolerance %d, quorum size %d)", v.FailureTolerance, v.QuorumSize)
	}
	if rule.IsHierarchical() {
		return false, fmt.Sprintf("without it the voters known up would not hold a hierarchical quorum: its group would lose its majority, or too few groups would keep one (failure tolerance %d)%s", v.FailureTolerance, partial)
	}
	return false, fmt.Sprintf("failure tolerance is %d: without it the ensemble would lose quorum%s", v.FailureTolerance, partial)
}

// saneCount says whether a count from a reply can be believed: a whole
// number, not negative, not absurdly large. zk_synced_followers is the one
// mntr value in the quorum arithmetic (NaN or 1e300 through int() made
// synced_voters -9.2e18 and a false QuorumLost); the other numbers that
// reach it are checked where they are parsed (fourletter): srvr's counts
// and zxid, conf's server ids, weights and config version.
func saneCount(f float64) bool {
	return f >= 0 && f < 1<<20 && f == math.Trunc(f)
}

func zxid(s MemberSnapshot) uint64 {
	if s.Srvr == nil {
		return 0
	}
	return s.Srvr.Zxid
}

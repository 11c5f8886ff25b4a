package collector

// View is what one consistent snapshot of every member says about the
// ensemble as a whole. It is derived by the exporter, not in PromQL, because
// members scraped at different instants cannot say "exactly one leader" or
// "quorum held" reliably.
type View struct {
	Members    int
	Voters     int // configured voters
	Observers  int // configured observers
	QuorumSize int // floor(voters/2)+1
	// VotersUp counts configured voters that answered and serve as leader,
	// follower or standalone.
	VotersUp int
	// SyncedVoters is the leader's zk_synced_followers + 1: ZooKeeper's own
	// count of voters in sync. HasSynced is false without a leader's mntr.
	SyncedVoters int
	HasSynced    bool
	Leaders      []string // servers reporting leader
	Leader       int      // index of the current leader in the snapshot, -1 if none
	Epoch        uint64
	HasEpoch     bool
	Quorum       bool
	// FailureTolerance is how many more voters can fail before quorum is
	// lost; negative when short of quorum.
	FailureTolerance int
	SafeToStop       []bool // by member index
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

// Derive computes the ensemble view from one poll of every member.
func Derive(snaps []MemberSnapshot) View {
	v := View{Members: len(snaps), Leader: -1,
		SafeToStop: make([]bool, len(snaps)), ZxidLag: make([]float64, len(snaps)), HasLag: make([]bool, len(snaps))}
	votingUp := make([]bool, len(snaps))
	for i, s := range snaps {
		if s.Member.Observer {
			v.Observers++
			continue
		}
		v.Voters++
		switch s.State {
		case StateLeader, StateFollower, StateStandalone:
			v.VotersUp++
			votingUp[i] = true
		}
	}
	v.QuorumSize = v.Voters/2 + 1

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

	serving := false
	if v.Leader >= 0 {
		leader := snaps[v.Leader]
		serving = true
		if leader.Srvr != nil && leader.Srvr.HasZxid {
			v.Epoch, v.HasEpoch = leader.Srvr.ZxidEpoch(), true
		}
		if leader.Mntr != nil {
			if n, ok := leader.Mntr.Value("synced_followers"); ok {
				v.SyncedVoters, v.HasSynced = int(n)+1, true
			}
		}
	} else {
		// A standalone server (no ensemble) serves writes on its own.
		for _, s := range snaps {
			if s.State == StateStandalone && !s.Member.Observer {
				serving = true
			}
		}
	}

	// The voters that count: the exporter's own view, and where the leader
	// says fewer are in sync, the leader's. A hung follower keeps its place
	// in the leader's count for syncLimit*tickTime; one that answers the
	// exporter but is still syncing is not in the leader's count at all.
	effective := v.VotersUp
	if v.HasSynced && v.SyncedVoters < effective {
		effective = v.SyncedVoters
	}
	quorumVoters := v.VotersUp
	if v.HasSynced {
		quorumVoters = v.SyncedVoters
	}
	v.Quorum = serving && quorumVoters >= v.QuorumSize
	v.FailureTolerance = effective - v.QuorumSize
	if !serving && v.FailureTolerance >= 0 {
		// Voters that answer but have no leader are no quorum.
		v.FailureTolerance = -1
	}

	for i, s := range snaps {
		switch {
		case !v.Quorum:
			v.SafeToStop[i] = false
		case s.Member.Observer || !votingUp[i]:
			// Observers do not vote, and a voter already out does not count.
			v.SafeToStop[i] = true
		default:
			v.SafeToStop[i] = effective-1 >= v.QuorumSize
		}
	}

	// Lag only within the leader's epoch: right after an election the
	// followers keep the old zxid until the first transaction, which is not
	// lag.
	if v.Leader >= 0 && snaps[v.Leader].Srvr != nil && snaps[v.Leader].Srvr.HasZxid {
		leader := snaps[v.Leader].Srvr
		for i, s := range snaps {
			if s.Srvr == nil || !s.Srvr.HasZxid || !isServing(s.State) || s.Srvr.ZxidEpoch() != leader.ZxidEpoch() {
				continue
			}
			lag := float64(leader.ZxidCounter()) - float64(s.Srvr.ZxidCounter())
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

func zxid(s MemberSnapshot) uint64 {
	if s.Srvr == nil {
		return 0
	}
	return s.Srvr.Zxid
}

func isServing(state string) bool {
	return state != StateUnknown && state != StateNotServing
}

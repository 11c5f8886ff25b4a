// Package ensemble is the domain of the exporter, with no Prometheus in it:
// what one poll of every member said (the snapshot), the ensemble's own
// membership, ZooKeeper's quorum rules, and the answers derived from them
// (quorum, failure tolerance, safe to stop). The metrics and the status
// command both take their answers from Derive, so they cannot disagree.
package ensemble

import (
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// Member states, the values of zookeeper_server_state{state}.
const (
	StateLeader     = "leader"
	StateFollower   = "follower"
	StateObserver   = "observer"
	StateStandalone = "standalone"
	StateReadOnly   = "read_only"
	StateNotServing = "not_serving"
	StateUnknown    = "unknown"
)

// States lists every state in exposition order.
var States = []string{StateLeader, StateFollower, StateObserver, StateStandalone, StateReadOnly, StateNotServing, StateUnknown}

// MemberSnapshot is what one member said in one poll.
type MemberSnapshot struct {
	Member  config.Member
	Up      bool // answered a four-letter word within its deadline
	Serving bool
	State   string
	Srvr    *fourletter.Srvr
	Mntr    *fourletter.Mntr
	Conf    *fourletter.Conf
	// ConfFromAdmin: Conf came from the AdminServer's voting_view, which
	// lists voters only, so it is compared only with other such views.
	ConfFromAdmin bool
	// Allowed maps a word to whether the member's whitelist lets it through;
	// words that got no answer at all are absent.
	Allowed   map[string]bool
	Malformed int
	Duration  time.Duration
	// Err is the reason nothing usable came back, nil when something did.
	Err error
	// Probe is the member's last client probe (nil: no probe configured).
	Probe *ProbeResult
}

// votes says whether the member serves as a voter: a leader, a follower,
// or a standalone server (which is its own quorum).
func (s MemberSnapshot) votes() bool {
	return s.State == StateLeader || s.State == StateFollower || s.State == StateStandalone
}

// provesLeader says whether the member's state proves an established
// leader with a quorum: learners stop serving when they lose their leader.
func (s MemberSnapshot) provesLeader() bool {
	switch s.State {
	case StateLeader, StateFollower, StateObserver, StateStandalone:
		return true
	}
	return false
}

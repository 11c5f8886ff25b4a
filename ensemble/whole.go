package ensemble

import (
	"fmt"
	"strconv"
)

// Mark is the leader's zxid at an earlier poll. A learner at or past it
// has applied every transaction the leader had then.
type Mark struct {
	Zxid uint64
	OK   bool
}

// LeaderMark is the mark this poll leaves for the next one: the current
// leader's zxid, when it told one.
func (r Result) LeaderMark() Mark {
	v := r.View
	if v.Leader < 0 || len(v.Leaders) != 1 {
		return Mark{}
	}
	s := r.Members[v.Leader].Srvr
	if s == nil || !s.HasZxid {
		return Mark{}
	}
	return Mark{Zxid: s.Zxid, OK: true}
}

// CaughtUp says, per member, whether it has every transaction the leader
// has: the leader itself; a serving learner whose lag in this poll is 0
// (Derive's lag, so right after an election, before the first write, a
// learner still showing the previous epoch's zxid has everything); or one
// whose zxid is at or past mark. The mark is there because while writes
// flow a learner in sync still lags the leader by the transactions in
// flight between the two answers of one poll, so "lag 0" alone would never
// hold; the leader's zxid of an earlier poll is a point it must have
// passed. Members that do not serve as learners, or tell no zxid, are not
// caught up.
func (r Result) CaughtUp(mark Mark) []bool {
	v := r.View
	out := make([]bool, len(r.Members))
	if v.Leader < 0 || len(v.Leaders) != 1 {
		return out
	}
	for i, s := range r.Members {
		switch {
		case i == v.Leader:
			out[i] = true
		case !s.Serving || (s.State != StateFollower && s.State != StateObserver):
		case v.HasLag[i] && v.ZxidLag[i] == 0:
			out[i] = true
		case mark.OK && s.Srvr != nil && s.Srvr.HasZxid && s.Srvr.Zxid >= mark.Zxid:
			out[i] = true
		}
	}
	return out
}

// Missing lists what keeps the ensemble from being whole, in the words a
// person waiting for it needs; empty when it is whole. Whole means: a
// quorum with one leader; every server of the ensemble's own membership
// watched, answering and serving; the leader counting every voter and
// every observer in sync; every learner's zxid caught up with the
// leader's (see CaughtUp; mark is the leader's zxid at the previous poll);
// every member telling the same membership; and the failure tolerance
// back to its full value. Whatever cannot be told counts as missing: the
// answer decides whether the next member may go down.
func (r Result) Missing(mark Mark) []string {
	v := r.View
	var out []string
	if !v.Quorum {
		out = append(out, "quorum (no serving leader with a quorum of synced voters)")
	}
	switch {
	case len(v.Leaders) > 1:
		out = append(out, fmt.Sprintf("one leader (%d members report leader)", len(v.Leaders)))
	case v.Leader < 0:
		out = append(out, "a leader among the watched members")
	}
	for _, j := range v.Unwatched {
		srv := v.Membership.Servers[j]
		out = append(out, fmt.Sprintf("server.%d (%s): not watched", srv.ID, srv.Role))
	}
	for i, s := range r.Members {
		addr := s.Member.Address
		switch {
		case !s.Up:
			out = append(out, addr+": down ("+DownReason(s.Err)+")")
		case !s.Serving:
			out = append(out, addr+": not serving")
		case v.InMembership[i] == 0:
			out = append(out, addr+": not in the ensemble's membership")
		}
	}
	if v.Leader >= 0 && len(v.Leaders) == 1 {
		switch {
		case !v.HasSynced:
			out = append(out, "the leader's synced count (mntr not answered)")
		case v.SyncedVoters < v.Voters:
			out = append(out, fmt.Sprintf("the leader to count every voter in sync (%d of %d)", v.SyncedVoters, v.Voters))
		}
		switch {
		case v.Observers == 0, !v.HasSyncedObservers:
			// Without the leader's mntr the line above says so; a 3.4 or
			// 3.5 leader tells no zk_synced_observers: each observer's own
			// state and zxid (below) stand for it (an observer serves
			// only once synced with the leader).
		case v.SyncedObservers < v.Observers:
			out = append(out, fmt.Sprintf("the leader to count every observer in sync (%d of %d)", v.SyncedObservers, v.Observers))
		}
		caught := r.CaughtUp(mark)
		for i, s := range r.Members {
			if caught[i] || !s.Serving || (s.State != StateFollower && s.State != StateObserver) {
				continue
			}
			if v.HasLag[i] {
				out = append(out, fmt.Sprintf("%s: zxid to catch up with the leader's (lag %s)", s.Member.Address, strconv.FormatFloat(v.ZxidLag[i], 'f', 0, 64)))
			} else {
				out = append(out, s.Member.Address+": zxid to catch up with the leader's (not comparable yet)")
			}
		}
	}
	switch {
	case !v.HasConfig:
		out = append(out, "the membership (no member tells it in conf)")
	case !v.ConfigConsistent:
		out = append(out, "the members to agree on the membership")
	}
	// Without quorum the tolerance is below zero and the first line says
	// it all: "back to 1 (now -2)" would only puzzle the reader.
	if v.Quorum && v.FailureTolerance < v.FullFailureTolerance {
		out = append(out, fmt.Sprintf("failure tolerance back to %d (now %d)", v.FullFailureTolerance, v.FailureTolerance))
	}
	return out
}

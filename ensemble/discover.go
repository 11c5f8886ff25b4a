package ensemble

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log/level"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// Discovery (--zookeeper.discover): the configured servers are seeds; the
// ensemble's own membership (conf's server lines, else the /zookeeper/config
// znode) says who else to poll, with roles. A scrape polls the seeds and the
// members learned so far; when the membership names a member not polled yet,
// it is polled in the same scrape, so a member added by a reconfiguration
// shows at once.

// targetState is what is remembered of one ensemble between scrapes.
type targetState struct {
	mu sync.Mutex
	// members discovery learned.
	members []config.Member
	// znode is the last /zookeeper/config read, and znodeAt when: a client
	// session per scrape would be a load of its own.
	znode   *fourletter.Conf
	znodeAt time.Time
	// found is the discovered set last logged, capped the count left out
	// by the cap last logged: the log says changes, not repeats.
	found  string
	capped int
	// unaddressable is the count last logged, so the log says it once.
	unaddressable int
	// last is the membership the ensemble told last: when its members stop
	// serving they stop telling it, and the exporter's own list is a worse
	// truth than what the ensemble said a moment ago.
	last *Membership
	// probes are the last client probe of each member, canary the last
	// canary write, probeConns the connections they opened in all: the
	// rate limit and its cost.
	probes     map[string]ProbeResult
	canary     *ProbeResult
	probeConns uint64
}

// remember keeps a membership the ensemble told.
func (st *targetState) remember(m Membership) {
	if !m.FromEnsemble() || m.Source == SourceLastKnown {
		return
	}
	m.Source = SourceLastKnown
	st.mu.Lock()
	st.last = &m
	st.mu.Unlock()
}

// fallback is the membership for a poll in which no member tells its own:
// the /zookeeper/config znode where conf is refused, else the last told.
func (p *Poller) fallback(ctx context.Context, t Target, start time.Time, state *targetState, snaps []MemberSnapshot) *Membership {
	if c := p.znodeMembership(ctx, t, start, state, snaps); c != nil {
		m := MembershipOf(c, SourceZnode)
		return &m
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	return state.last
}

// maxTargetStates bounds the remembered ensembles: ad-hoc /probe lists
// would otherwise grow it without end. Past it, the oldest is forgotten.
const maxTargetStates = 4096

// DiscoverMembers turns a membership into members to poll. A server is
// matched to a polled member by the server id that member reports (so a
// seed keeps the address it was configured with); otherwise its address is
// the client address its 3.5+ server line tells, else, where its host is
// its own (no other server line and no other member on it), that host with
// the seeds' client port. The servers whose address cannot be told are
// returned apart: they stay in the arithmetic (the membership counts them)
// but cannot be polled.
func DiscoverMembers(seeds []config.Member, snaps []MemberSnapshot, m Membership) (members []config.Member, unaddressable []Server) {
	byID := map[int64]string{}
	for _, s := range snaps {
		if s.Conf != nil && s.Conf.ServerID >= 0 && s.Conf.PeerType != "" {
			byID[s.Conf.ServerID] = s.Member.Address
		}
	}
	seedPort := config.DefaultPort
	if len(seeds) > 0 {
		if _, p, err := net.SplitHostPort(seeds[0].Address); err == nil {
			seedPort = p
		}
	}
	hosts := map[string]int{}
	for _, srv := range m.Servers {
		hosts[QuorumHost(srv.QuorumAddresses)]++
	}
	seen := map[string]bool{}
	for _, srv := range m.Servers {
		addr, ok := byID[srv.ID]
		if !ok {
			addr = srv.ClientAddress
		}
		if addr == "" {
			if h := QuorumHost(srv.QuorumAddresses); h != "" && hosts[h] == 1 {
				addr = net.JoinHostPort(h, seedPort)
			}
		}
		if addr == "" || seen[addr] {
			// Plain server lines of members that share a host: which
			// client port is whose cannot be told.
			unaddressable = append(unaddressable, srv)
			continue
		}
		seen[addr] = true
		members = append(members, config.Member{Address: addr, Observer: srv.Role == RoleObserver})
	}
	// A seed the membership does not name (a stale entry, or a member that
	// did not answer) stays: it was configured, so it is polled.
	for _, s := range seeds {
		if !seen[s.Address] {
			members = append(members, s)
			seen[s.Address] = true
		}
	}
	// A guessed address that turns out to be a seed's is that seed.
	return members, unaddressable
}

// discoverPoll polls an ensemble with discovery: seeds plus the members
// learned so far, then any member the membership names that was not polled.
func (p *Poller) discoverPoll(ctx context.Context, mp *memberPoller, t Target, start time.Time, state *targetState) Result {
	state.mu.Lock()
	members := union(t.Members, state.members)
	state.mu.Unlock()

	snaps := mp.PollEnsemble(ctx, members, t.Timeout)
	fallback := p.fallback(ctx, t, start, state, snaps)
	view := Derive(snaps, fallback)
	if !view.Membership.FromEnsemble() {
		return NewResult(t, snaps, fallback, time.Since(start))
	}
	found, unaddressable := DiscoverMembers(t.Members, snaps, view.Membership)
	// The cap keeps the seeds and the first members the membership names.
	limit := t.DiscoverMax
	if limit <= 0 {
		limit = config.DefaultDiscoverMax
	}
	capped := 0
	if limit = max(limit, len(t.Members)); len(found) > limit {
		kept := make([]config.Member, 0, limit)
		for _, m := range found {
			if slices.ContainsFunc(t.Members, func(x config.Member) bool { return x.Address == m.Address }) {
				kept = append(kept, m)
			}
		}
		for _, m := range found {
			if len(kept) == limit {
				break
			}
			if !slices.ContainsFunc(kept, func(x config.Member) bool { return x.Address == m.Address }) {
				kept = append(kept, m)
			}
		}
		capped, found = len(found)-len(kept), kept
	}
	addrs := make([]string, len(found))
	for i, m := range found {
		addrs[i] = m.Address
	}
	slices.Sort(addrs)
	foundKey := strings.Join(addrs, ",")
	state.mu.Lock()
	state.members = found
	logFound, logCap := foundKey != state.found, capped != state.capped
	state.found, state.capped = foundKey, capped
	logIt := len(unaddressable) != state.unaddressable
	state.unaddressable = len(unaddressable)
	state.mu.Unlock()
	if logCap && capped > 0 {
		level.Warn(p.Logger).Log("msg", "The ensemble names more members than discovery polls (see discover_max_members, --zookeeper.discover.max-members); the rest count in the quorum arithmetic but are not polled",
			"ensemble", t.Name, "polled", len(found), "left_out", capped)
	}
	if logFound {
		level.Info(p.Logger).Log("msg", "Discovered members", "ensemble", t.Name, "count", len(found))
	}
	if logIt && len(unaddressable) > 0 {
		var ids []string
		for _, srv := range unaddressable {
			ids = append(ids, fmt.Sprintf("%d (%s)", srv.ID, srv.Role))
		}
		level.Warn(p.Logger).Log("msg", "Cannot tell the client address of some members: their server lines carry none and they share a host; they count in the quorum arithmetic but are not polled. List them in the servers, or write server lines with ';host:port'",
			"ensemble", t.Name, "servers", strings.Join(ids, ", "))
	}

	polled := map[string]int{}
	for i, sn := range snaps {
		polled[sn.Member.Address] = i
	}
	var missing []config.Member
	out := make([]MemberSnapshot, 0, len(found))
	for _, m := range found {
		if i, ok := polled[m.Address]; ok {
			sn := snaps[i]
			sn.Member.Observer = m.Observer // the ensemble's word on roles
			out = append(out, sn)
		} else {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		out = append(out, mp.PollEnsemble(ctx, missing, t.Timeout)...)
	}
	r := NewResult(t, out, fallback, time.Since(start))
	r.Unaddressable = len(unaddressable)
	state.remember(r.View.Membership)
	return r
}

func union(a, b []config.Member) []config.Member {
	out := slices.Clone(a)
	for _, m := range b {
		if !slices.ContainsFunc(out, func(x config.Member) bool { return x.Address == m.Address }) {
			out = append(out, m)
		}
	}
	return out
}

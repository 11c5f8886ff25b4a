package collector

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log/level"
	"github.com/go-zookeeper/zk"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
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
	// unaddressable is the count last logged, so the log says it once.
	unaddressable int
	// last is the membership the ensemble told last: when its members stop
	// serving they stop telling it, and the exporter's own list is a worse
	// truth than what the ensemble said a moment ago.
	last *ensemble.Membership
}

// remember keeps a membership the ensemble told.
func (st *targetState) remember(m ensemble.Membership) {
	if !m.FromEnsemble() || m.Source == ensemble.SourceLastKnown {
		return
	}
	m.Source = ensemble.SourceLastKnown
	st.mu.Lock()
	st.last = &m
	st.mu.Unlock()
}

// fallback is the membership for a poll in which no member tells its own:
// the /zookeeper/config znode where conf is refused, else the last told.
func (s *Scraper) fallback(ctx context.Context, t Target, start time.Time, state *targetState, snaps []ensemble.MemberSnapshot) *ensemble.Membership {
	if c := s.znodeMembership(ctx, t, start, state, snaps); c != nil {
		m := ensemble.MembershipOf(c, ensemble.SourceZnode)
		return &m
	}
	state.mu.Lock()
	defer state.mu.Unlock()
	return state.last
}

// znodeInterval bounds how often /zookeeper/config is read per ensemble.
const znodeInterval = time.Minute

// maxTargetStates bounds the remembered ensembles: ad-hoc /probe lists
// would otherwise grow it without end. Past it, the oldest is forgotten.
const maxTargetStates = 4096

type targetStates struct {
	mu    sync.Mutex
	m     map[string]*targetState
	order []string
}

// state returns what is remembered of the target with key.
func (s *Scraper) state(key string) *targetState {
	ts := &s.states
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if st, ok := ts.m[key]; ok {
		return st
	}
	if ts.m == nil {
		ts.m = map[string]*targetState{}
	}
	if len(ts.order) >= maxTargetStates {
		delete(ts.m, ts.order[0])
		ts.order = ts.order[1:]
	}
	st := &targetState{}
	ts.m[key] = st
	ts.order = append(ts.order, key)
	return st
}

// DiscoverMembers turns a membership into members to poll. A server is
// matched to a polled member by the server id that member reports (so a
// seed keeps the address it was configured with); otherwise its address is
// the client address its 3.5+ server line tells, else, where its host is
// its own (no other server line and no other member on it), that host with
// the seeds' client port. The servers whose address cannot be told are
// returned apart: they stay in the arithmetic (the membership counts them)
// but cannot be polled.
func DiscoverMembers(seeds []config.Member, snaps []ensemble.MemberSnapshot, m ensemble.Membership) (members []config.Member, unaddressable []ensemble.Server) {
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
		hosts[ensemble.QuorumHost(srv.QuorumAddresses)]++
	}
	seen := map[string]bool{}
	for _, srv := range m.Servers {
		addr, ok := byID[srv.ID]
		if !ok {
			addr = srv.ClientAddress
		}
		if addr == "" {
			if h := ensemble.QuorumHost(srv.QuorumAddresses); h != "" && hosts[h] == 1 {
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
		members = append(members, config.Member{Address: addr, Observer: srv.Role == ensemble.RoleObserver})
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
func (s *Scraper) discoverPoll(ctx context.Context, p *Poller, t Target, start time.Time) Result {
	state := s.state(t.key())
	state.mu.Lock()
	members := union(t.Members, state.members)
	state.mu.Unlock()

	snaps := p.PollEnsemble(ctx, members, t.Timeout)
	fallback := s.fallback(ctx, t, start, state, snaps)
	view := ensemble.Derive(snaps, fallback)
	if !view.Membership.FromEnsemble() {
		return NewResult(t, snaps, fallback, time.Since(start))
	}
	found, unaddressable := DiscoverMembers(t.Members, snaps, view.Membership)
	state.mu.Lock()
	state.members = found
	logIt := len(unaddressable) != state.unaddressable
	state.unaddressable = len(unaddressable)
	state.mu.Unlock()
	if logIt && len(unaddressable) > 0 {
		var ids []string
		for _, srv := range unaddressable {
			ids = append(ids, fmt.Sprintf("%d (%s)", srv.ID, srv.Role))
		}
		level.Warn(s.Logger).Log("msg", "Cannot tell the client address of some members: their server lines carry none and they share a host; they count in the quorum arithmetic but are not polled. List them in the servers, or write server lines with ';host:port'",
			"ensemble", t.Name, "servers", strings.Join(ids, ", "))
	}

	polled := map[string]int{}
	for i, sn := range snaps {
		polled[sn.Member.Address] = i
	}
	var missing []config.Member
	out := make([]ensemble.MemberSnapshot, 0, len(found))
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
		level.Info(s.Logger).Log("msg", "Discovered members", "ensemble", t.Name, "count", len(missing))
		out = append(out, p.PollEnsemble(ctx, missing, t.Timeout)...)
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

// znodeMembership reads /zookeeper/config with a short client session where
// members serve but refuse conf (the default whitelist since 3.5.3) and no
// AdminServer told the membership, at most once a minute per ensemble; in
// between the last one read stands. The read shares the poll's deadline
// (start + the member timeout), so a scrape still takes at most one.
func (s *Scraper) znodeMembership(ctx context.Context, t Target, start time.Time, state *targetState, snaps []ensemble.MemberSnapshot) *fourletter.Conf {
	var servers []string
	for _, sn := range snaps {
		if sn.Conf != nil && sn.Conf.HasMembership {
			return nil // a member told its own
		}
		if allowed, asked := sn.Allowed["conf"]; sn.Serving && asked && !allowed {
			servers = append(servers, sn.Member.Address)
		}
	}
	if len(servers) == 0 {
		return nil
	}
	state.mu.Lock()
	if time.Since(state.znodeAt) < znodeInterval {
		defer state.mu.Unlock()
		return state.znode
	}
	state.znodeAt = time.Now()
	state.mu.Unlock()

	ctx, cancel := context.WithDeadline(ctx, start.Add(t.Timeout))
	defer cancel()
	c := s.readZnode(ctx, t, servers)
	state.mu.Lock()
	if c != nil {
		state.znode = c
	}
	defer state.mu.Unlock()
	return state.znode
}

func (s *Scraper) readZnode(ctx context.Context, t Target, servers []string) *fourletter.Conf {
	conn, events, err := zk.Connect(servers, t.Timeout, zk.WithLogger(zkLogger{s}), zk.WithDialer(func(network, addr string, timeout time.Duration) (net.Conn, error) {
		c, err := (&net.Dialer{Timeout: timeout, Resolver: s.Resolver}).DialContext(ctx, network, addr)
		if err != nil || t.TLS == nil {
			return c, err
		}
		cfg := t.TLS.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName, _, _ = net.SplitHostPort(addr)
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return nil, err
		}
		return tc, nil
	}))
	if err != nil {
		level.Warn(s.Logger).Log("msg", "Cannot read /zookeeper/config", "ensemble", t.Name, "err", err)
		return nil
	}
	defer conn.Close()
	for connected := false; !connected; {
		select {
		case ev := <-events:
			connected = ev.State == zk.StateHasSession
		case <-ctx.Done():
			level.Warn(s.Logger).Log("msg", "No session to read /zookeeper/config", "ensemble", t.Name)
			return nil
		}
	}
	data, _, err := conn.Get("/zookeeper/config")
	if err != nil {
		level.Warn(s.Logger).Log("msg", "Cannot read /zookeeper/config", "ensemble", t.Name, "err", err)
		return nil
	}
	// The znode holds exactly conf's membership block.
	c, err := fourletter.ParseConf(strings.NewReader("membership: \n" + string(data)))
	if err != nil || len(c.Servers) == 0 {
		return nil
	}
	return &c
}

type zkLogger struct{ s *Scraper }

func (l zkLogger) Printf(format string, args ...any) {
	level.Debug(l.s.Logger).Log("msg", "go-zookeeper", "detail", strings.TrimSpace(fmt.Sprintf(format, args...)))
}

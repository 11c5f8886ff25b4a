package collector

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/log/level"
	"github.com/go-zookeeper/zk"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// Discovery (--zookeeper.discover): the configured servers are seeds; the
// ensemble's own membership (conf's server lines, else the /zookeeper/config
// znode) says who else to poll, with roles. A scrape polls the seeds and the
// members learned so far; when the membership names a member not polled yet,
// it is polled in the same scrape, so a member added by a reconfiguration
// shows at once.

// discoveredState is what was learned of one ensemble.
type discoveredState struct {
	mu      sync.Mutex
	members []config.Member
	// znodeAt is when /zookeeper/config was last read (only where conf is
	// refused): a client session per scrape would be a load of its own.
	znodeAt time.Time
}

// znodeInterval bounds how often /zookeeper/config is read per ensemble.
const znodeInterval = time.Minute

// membership picks the server lines to trust from one poll: the leader's
// (the view the ensemble commits to), else any serving member's, else any.
func membership(snaps []MemberSnapshot) *fourletter.Conf {
	var best *fourletter.Conf
	rank := 0
	for _, s := range snaps {
		if s.Conf == nil || !s.Conf.HasMembership || len(s.Conf.Servers) == 0 {
			continue
		}
		r := 1
		switch {
		case s.State == StateLeader:
			r = 3
		case s.Serving:
			r = 2
		}
		if r > rank {
			best, rank = s.Conf, r
		}
	}
	return best
}

// DiscoverMembers turns a membership into members to poll. A server line is
// matched to a polled member by the server id that member reports (so a
// seed keeps the address it was configured with); otherwise its address is
// the client address of a 3.5+ server line, else the host of its quorum
// address with the seeds' client port.
func DiscoverMembers(seeds []config.Member, snaps []MemberSnapshot, conf *fourletter.Conf) []config.Member {
	byID := map[int64]string{}
	for _, s := range snaps {
		if s.Conf != nil && s.Conf.ServerID >= 0 {
			byID[s.Conf.ServerID] = s.Member.Address
		}
	}
	seedPort := config.DefaultPort
	if len(seeds) > 0 {
		if _, p, err := net.SplitHostPort(seeds[0].Address); err == nil {
			seedPort = p
		}
	}
	var out []config.Member
	seen := map[string]bool{}
	for _, line := range conf.Servers {
		addr, ok := byID[line.ID]
		if !ok {
			addr = clientAddress(line, seedPort)
		}
		if addr == "" || seen[addr] {
			continue
		}
		seen[addr] = true
		out = append(out, config.Member{Address: addr, Observer: line.Role == "observer"})
	}
	// A seed the membership does not name (a stale entry, or a member that
	// did not answer) stays: it was configured, so it is polled.
	for _, s := range seeds {
		if !seen[s.Address] {
			out = append(out, s)
		}
	}
	return out
}

// clientAddress derives a member's client address from its server line.
func clientAddress(line fourletter.ServerLine, seedPort string) string {
	if c := line.ClientAddress; c != "" {
		host, port, err := net.SplitHostPort(c)
		if err != nil {
			port, host = c, "" // ";2181": a port alone
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = quorumHost(line)
		}
		if host != "" && port != "" {
			return net.JoinHostPort(host, port)
		}
	}
	if host := quorumHost(line); host != "" {
		return net.JoinHostPort(host, seedPort)
	}
	return ""
}

// quorumHost is the host of the first quorum address ("host:q:e", or
// "[v6]:q:e", or several joined by "|").
func quorumHost(line fourletter.ServerLine) string {
	first, _, _ := strings.Cut(line.Addresses, "|")
	if strings.HasPrefix(first, "[") {
		if end := strings.IndexByte(first, ']'); end > 0 {
			return first[1:end]
		}
		return ""
	}
	host, _, _ := strings.Cut(first, ":")
	return host
}

// discoverPoll polls an ensemble with discovery: seeds plus the members
// learned so far, then any member the membership names that was not polled.
func (s *Scraper) discoverPoll(ctx context.Context, p *Poller, t Target) []MemberSnapshot {
	v, _ := s.discovered.LoadOrStore(t.key(), &discoveredState{})
	state := v.(*discoveredState)
	state.mu.Lock()
	members := union(t.Members, state.members)
	state.mu.Unlock()

	snaps := p.PollEnsemble(ctx, members, t.Timeout)
	conf := membership(snaps)
	if conf == nil {
		conf = s.znodeMembership(ctx, t, state)
	}
	if conf == nil {
		return snaps
	}
	found := DiscoverMembers(t.Members, snaps, conf)
	state.mu.Lock()
	state.members = found
	state.mu.Unlock()

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
		level.Info(s.Logger).Log("msg", "Discovered members", "ensemble", t.Name, "count", len(missing))
		out = append(out, p.PollEnsemble(ctx, missing, t.Timeout)...)
	}
	return out
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

// znodeMembership reads /zookeeper/config with a short client session,
// where no member answers conf (the default whitelist), at most once a
// minute per ensemble; in between the last membership learned stands.
func (s *Scraper) znodeMembership(ctx context.Context, t Target, state *discoveredState) *fourletter.Conf {
	state.mu.Lock()
	if time.Since(state.znodeAt) < znodeInterval {
		state.mu.Unlock()
		return nil
	}
	state.znodeAt = time.Now()
	state.mu.Unlock()

	var servers []string
	for _, m := range t.Members {
		servers = append(servers, m.Address)
	}
	conn, events, err := zk.Connect(servers, t.Timeout, zk.WithLogger(zkLogger{s}), zk.WithDialer(func(network, addr string, timeout time.Duration) (net.Conn, error) {
		return (&net.Dialer{Timeout: timeout, Resolver: s.Resolver}).DialContext(ctx, network, addr)
	}))
	if err != nil {
		level.Warn(s.Logger).Log("msg", "Cannot read /zookeeper/config", "ensemble", t.Name, "err", err)
		return nil
	}
	defer conn.Close()
	deadline := time.After(t.Timeout)
	for connected := false; !connected; {
		select {
		case ev := <-events:
			connected = ev.State == zk.StateHasSession
		case <-deadline:
			level.Warn(s.Logger).Log("msg", "No session to read /zookeeper/config", "ensemble", t.Name)
			return nil
		case <-ctx.Done():
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

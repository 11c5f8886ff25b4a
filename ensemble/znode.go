package ensemble

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/go-kit/log/level"
	"github.com/go-zookeeper/zk"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// znodeInterval bounds how often /zookeeper/config is read per ensemble.
const znodeInterval = time.Minute

// znodeMembership reads /zookeeper/config with a short client session where
// members serve but refuse conf (the default whitelist since 3.5.3) and no
// AdminServer told the membership, at most once a minute per ensemble; in
// between the last one read stands. The read shares the poll's deadline
// (start + the member timeout), so a scrape still takes at most one.
func (p *Poller) znodeMembership(ctx context.Context, t Target, start time.Time, state *targetState, snaps []MemberSnapshot) *fourletter.Conf {
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
	c := p.readZnode(ctx, t, servers)
	state.mu.Lock()
	if c != nil {
		state.znode = c
	}
	defer state.mu.Unlock()
	return state.znode
}

func (p *Poller) readZnode(ctx context.Context, t Target, servers []string) *fourletter.Conf {
	conn, events, err := zk.Connect(servers, t.Timeout, zk.WithLogger(zkLogger{p}), zk.WithDialer(func(network, addr string, timeout time.Duration) (net.Conn, error) {
		c, err := (&net.Dialer{Timeout: timeout, Resolver: p.Resolver}).DialContext(ctx, network, addr)
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
		level.Warn(p.Logger).Log("msg", "Cannot read /zookeeper/config", "ensemble", t.Name, "err", err)
		return nil
	}
	defer conn.Close()
	for connected := false; !connected; {
		select {
		case ev := <-events:
			connected = ev.State == zk.StateHasSession
		case <-ctx.Done():
			level.Warn(p.Logger).Log("msg", "No session to read /zookeeper/config", "ensemble", t.Name)
			return nil
		}
	}
	data, _, err := conn.Get("/zookeeper/config")
	if err != nil {
		level.Warn(p.Logger).Log("msg", "Cannot read /zookeeper/config", "ensemble", t.Name, "err", err)
		return nil
	}
	// The znode holds exactly conf's membership block.
	c, err := fourletter.ParseConf(strings.NewReader("membership: \n" + string(data)))
	if err != nil || len(c.Servers) == 0 {
		return nil
	}
	return &c
}

type zkLogger struct{ p *Poller }

func (l zkLogger) Printf(format string, args ...any) {
	level.Debug(l.p.Logger).Log("msg", "go-zookeeper", "detail", strings.TrimSpace(fmt.Sprintf(format, args...)))
}

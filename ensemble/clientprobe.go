package ensemble

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// The client probe (--zookeeper.client-probe) does what a client does: it
// opens a ZooKeeper session against one member alone, reads a small znode
// and closes. Four-letter words say what a server thinks of itself; a
// member can answer ruok with imok and srvr with "follower" while its
// clients get ConnectionLoss. The probe costs one TCP connection per member
// per probe (a second one per ensemble for the canary write), is rate
// limited per member (ClientProbe.Interval) and never keeps a session
// between scrapes: ZooKeeper's maxClientCnxns counts every connection of
// the exporter's host.

// ClientProbe are an ensemble's client-probe settings.
type ClientProbe struct {
	// Znode is read in every probe (default /zookeeper/config, which every
	// 3.5+ server has and anyone may read).
	Znode string
	// CanaryZnode, when set, is written (set, created if missing) once per
	// Interval through the ensemble: proof that writes commit. Nothing
	// else is ever written.
	CanaryZnode string
	// Interval is the least time between two probes of one member (and two
	// canary writes of one ensemble): in between, the last result stands.
	Interval time.Duration
	// Digest, when set, is "user:password" for ZooKeeper's digest scheme.
	Digest []byte
}

// Probe failure reasons, a fixed set (error text never becomes a label).
const (
	ProbeRefused        = "refused"         // TCP connection refused
	ProbeTimeout        = "timeout"         // no session (or no answer) before the deadline
	ProbeConnectionLoss = "connection_loss" // the member closed the connection before answering (what clients log as ConnectionLoss)
	ProbeSessionExpired = "session_expired" // the member refused the session (zero session id)
	ProbeAuthFailed     = "auth_failed"     // digest rejected, or the znode's ACL refuses the probe
	ProbeNotServing     = "not_serving"     // the session opened but the member answered the request "zookeeper is closing" (ZCLOSING: leaving service)
	ProbeOther          = "other"           // anything else: TLS handshake, name resolution, missing znode...
)

// ProbeReasons is every reason, in the order they are documented.
var ProbeReasons = []string{ProbeRefused, ProbeTimeout, ProbeConnectionLoss, ProbeSessionExpired, ProbeAuthFailed, ProbeNotServing, ProbeOther}

// ProbeResult is the outcome of one client probe (or canary write).
type ProbeResult struct {
	Success bool
	Reason  string // one of ProbeReasons when not Success
	// Session is the time from dialling to an established session, Op the
	// time of the read (or the write); each valid only with its Has flag.
	Session, Op       time.Duration
	HasSession, HasOp bool
	// At is when the probe ran; Connections how many TCP connections it
	// opened (0 or 1).
	At          time.Time
	Connections int
}

// singleHost is a HostProvider of one member: go-zookeeper would otherwise
// move on to another server (or to another address of the same name), and
// the probe would say nothing about this member.
// It is also a list of several, tried in order, for the canary write. Once
// every server was handed out, Next says retryStart: go-zookeeper then
// waits (a second, or until Close) instead of dialling again at once.
type hostList struct {
	addrs []string
	next  int
}

func (h *hostList) Init([]string) error { return nil }
func (h *hostList) Len() int            { return len(h.addrs) }
func (h *hostList) Next() (string, bool) {
	a := h.addrs[h.next%len(h.addrs)]
	h.next++
	return a, h.next > len(h.addrs)
}
func (h *hostList) Connected() {}

// discard is go-zookeeper's logger: its lines are per attempt, the probe's
// result says the outcome.
type discard struct{}

func (discard) Printf(string, ...any) {}

// sessionOp is what a probe does once it has a session.
type sessionOp func(conn *zk.Conn) error

// runSession opens one session against the servers (one member for a
// probe), runs op and closes, all before ctx's deadline. It dials each
// server at most once: the first failure of the last one is the answer.
func runSession(ctx context.Context, servers []string, tlsConfig *tls.Config, resolver *net.Resolver, digest []byte, op sessionOp) (res ProbeResult) {
	res.At = time.Now()
	start := res.At
	ctx, cancel := context.WithCancel(ctx)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = start.Add(10 * time.Second)
	}
	// ZooKeeper clamps the session timeout to its own minimum (2 ticks);
	// the session ends with Close anyway.
	sessionTimeout := max(time.Until(deadline), 4*time.Second)

	var mu sync.Mutex
	dials := 0       // connections opened, under mu: go-zookeeper dials on its own goroutine
	var raw net.Conn // the last one, under mu
	dialErrs := make(chan error, len(servers))
	dialer := func(network, addr string, _ time.Duration) (net.Conn, error) {
		mu.Lock()
		if dials >= len(servers) || ctx.Err() != nil {
			mu.Unlock()
			// Each server once: another attempt would hide the first
			// failure and cost another connection.
			return nil, errors.New("client probe: no further attempt")
		}
		dials++
		mu.Unlock()
		c, err := (&net.Dialer{Resolver: resolver}).DialContext(ctx, network, addr)
		if err == nil && tlsConfig != nil {
			cfg := tlsConfig.Clone()
			if cfg.ServerName == "" {
				cfg.ServerName, _, _ = net.SplitHostPort(addr)
			}
			tc := tls.Client(c, cfg)
			if err = tc.HandshakeContext(ctx); err != nil {
				c.Close()
				err = &tlsError{err}
			} else {
				c = tc
			}
		}
		if err != nil {
			dialErrs <- err
			return nil, err
		}
		mu.Lock()
		raw = c
		mu.Unlock()
		return c, nil
	}
	conn, events, err := zk.Connect(servers, sessionTimeout, zk.WithLogger(discard{}), zk.WithLogInfo(false),
		zk.WithHostProvider(&hostList{addrs: servers}), zk.WithDialer(dialer))
	if err != nil { // only for an empty server list
		cancel()
		res.Reason = ProbeOther
		return res
	}
	// Never a session left open: Close ends it at the server (and its
	// connection) whatever happened. cancel first: a dial in progress
	// returns, and Close does not wait for it.
	defer func() {
		cancel()
		mu.Lock()
		if (!res.HasSession || res.Reason == ProbeTimeout) && raw != nil {
			// No session to close, or a member that stopped answering:
			// go-zookeeper would wait up to a second more for its answer
			// to the close; the connection goes now.
			raw.Close()
		}
		res.Connections = dials
		mu.Unlock()
		conn.Close()
	}()
	connected, failures := false, 0
	fail := func(reason string) {
		if failures++; failures >= len(servers) {
			res.Reason = reason
		}
	}
	for res.Reason == "" && !res.HasSession {
		select {
		case err := <-dialErrs:
			fail(dialReason(ctx, err))
		case ev, open := <-events:
			switch {
			case !open:
				res.Reason = ProbeConnectionLoss
			case ev.State == zk.StateConnected:
				connected = true
			case ev.State == zk.StateHasSession:
				res.Session, res.HasSession = time.Since(start), true
			case ev.State == zk.StateExpired:
				res.Reason = ProbeSessionExpired
			case ev.State == zk.StateAuthFailed:
				res.Reason = ProbeAuthFailed
			case connected && (ev.State == zk.StateDisconnected || ev.State == zk.StateConnecting):
				// The member closed the connection before it answered
				// the session request: a server without quorum does that
				// (its clients log ConnectionLoss).
				connected = false
				fail(ProbeConnectionLoss)
			}
		case <-ctx.Done():
			res.Reason = ProbeTimeout
		}
	}
	if res.Reason != "" {
		return res
	}
	if len(digest) > 0 {
		if err := withDeadline(ctx, func() error { return conn.AddAuth("digest", digest) }); err != nil {
			res.Reason = opReason(ctx, err)
			return res
		}
	}
	opStart := time.Now()
	if err := withDeadline(ctx, func() error { return op(conn) }); err != nil {
		res.Reason = opReason(ctx, err)
		return res
	}
	res.Op, res.HasOp, res.Success = time.Since(opStart), true, true
	return res
}

// withDeadline runs f, which blocks until the member answers, and gives up
// when ctx ends first (go-zookeeper's calls take no context): f returns
// when runSession closes the connection.
func withDeadline(ctx context.Context, f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

type tlsError struct{ err error }

func (e *tlsError) Error() string { return "tls: " + e.err.Error() }
func (e *tlsError) Unwrap() error { return e.err }

func dialReason(ctx context.Context, err error) string {
	var te *tlsError
	switch {
	case errors.As(err, &te):
		return ProbeOther
	case errors.Is(err, syscall.ECONNREFUSED):
		return ProbeRefused
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), ctx.Err() != nil, isTimeout(err):
		return ProbeTimeout
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ProbeConnectionLoss
	}
	return ProbeOther
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// opReason classifies a failed read, write or auth on an open session.
func opReason(ctx context.Context, err error) string {
	switch {
	case ctx.Err() != nil, errors.Is(err, context.DeadlineExceeded):
		return ProbeTimeout
	case errors.Is(err, zk.ErrAuthFailed), errors.Is(err, zk.ErrNoAuth):
		return ProbeAuthFailed
	case errors.Is(err, zk.ErrSessionExpired):
		return ProbeSessionExpired
	case errors.Is(err, zk.ErrConnectionClosed), errors.Is(err, zk.ErrNoServer):
		return ProbeConnectionLoss
	case errors.Is(err, zk.ErrClosing):
		// ZCLOSING from the member (the probe's own Close comes only
		// after ctx ended, a timeout above): it is leaving service.
		return ProbeNotServing
	}
	return ProbeOther
}

// ProbeMember opens a session against one member alone and reads the
// probe's znode.
func ProbeMember(ctx context.Context, addr string, p *ClientProbe, tlsConfig *tls.Config, resolver *net.Resolver) ProbeResult {
	return runSession(ctx, []string{addr}, tlsConfig, resolver, p.Digest, func(conn *zk.Conn) error {
		_, _, err := conn.Get(p.Znode)
		return err
	})
}

// CanaryWrite sets the canary znode through the first of the servers that
// gives a session, creating it (and nothing else: not its parents) when
// missing. The value is the time of the write.
func CanaryWrite(ctx context.Context, servers []string, p *ClientProbe, tlsConfig *tls.Config, resolver *net.Resolver) ProbeResult {
	return runSession(ctx, servers, tlsConfig, resolver, p.Digest, func(conn *zk.Conn) error {
		data := []byte(strconv.FormatInt(time.Now().UnixMilli(), 10))
		_, err := conn.Set(p.CanaryZnode, data, -1)
		if errors.Is(err, zk.ErrNoNode) {
			acl := zk.WorldACL(zk.PermAll)
			if len(p.Digest) > 0 {
				acl = zk.AuthACL(zk.PermAll) // only the exporter's identity
			}
			_, err = conn.Create(p.CanaryZnode, data, 0, acl)
			if errors.Is(err, zk.ErrNodeExists) { // another exporter created it meanwhile
				_, err = conn.Set(p.CanaryZnode, data, -1)
			}
		}
		return err
	})
}

// probeRound is what one poll's client probes give: the result of each
// configured member (new or, within the interval, the last one), the
// canary's, and the connections opened so far in all.
type probeRound struct {
	members     map[string]ProbeResult
	canary      *ProbeResult
	connections uint64
}

// startProbes probes every configured member whose last probe is older
// than the interval, and writes the canary when due, all at once and
// under the poll's deadline (start + the member timeout).
func (p *Poller) startProbes(ctx context.Context, t Target, start time.Time, st *targetState) <-chan probeRound {
	out := make(chan probeRound, 1)
	ctx, cancel := context.WithDeadline(ctx, start.Add(t.Timeout))
	pr := t.Probe
	due := func(last ProbeResult, ok bool) bool { return !ok || time.Since(last.At) >= pr.Interval }
	round := probeRound{members: map[string]ProbeResult{}}
	var todo []string
	st.mu.Lock()
	for _, m := range t.Members {
		if last, ok := st.probes[m.Address]; !due(last, ok) {
			last.Connections = 0 // reported again, not run again
			round.members[m.Address] = last
			continue
		}
		todo = append(todo, m.Address)
	}
	canaryDue := pr.CanaryZnode != "" && (st.canary == nil || due(*st.canary, true))
	if pr.CanaryZnode != "" && !canaryDue {
		c := *st.canary
		c.Connections = 0
		round.canary = &c
	}
	st.mu.Unlock()

	go func() {
		defer cancel()
		var mu sync.Mutex
		var wg sync.WaitGroup
		var opened uint64
		for _, addr := range todo {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := ProbeMember(ctx, addr, pr, t.TLS, p.Resolver)
				mu.Lock()
				round.members[addr] = res
				opened += uint64(res.Connections)
				mu.Unlock()
			}()
		}
		if canaryDue {
			servers := make([]string, len(t.Members))
			for i, m := range t.Members {
				servers[i] = m.Address
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				res := CanaryWrite(ctx, servers, pr, t.TLS, p.Resolver)
				mu.Lock()
				round.canary = &res
				opened += uint64(res.Connections)
				mu.Unlock()
			}()
		}
		wg.Wait()
		st.mu.Lock()
		if st.probes == nil {
			st.probes = map[string]ProbeResult{}
		}
		for _, addr := range todo {
			st.probes[addr] = round.members[addr]
		}
		if canaryDue {
			st.canary = round.canary
		}
		st.probeConns += opened
		round.connections = st.probeConns
		st.mu.Unlock()
		out <- round
	}()
	return out
}

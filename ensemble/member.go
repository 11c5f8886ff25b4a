// Package collector polls every member of a ZooKeeper ensemble at once,
// derives what no single member can say (quorum, leaders, voters up, safe to
// stop) and exposes it all as Prometheus metrics.
package ensemble

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"

	"github.com/zookeeper-exporter/zookeeper_exporter/adminserver"
	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// Commands are the words asked of every member on every scrape, all at once.
// Read-only words only: never srst, crst or anything that changes the server.
// conf is cheap (about 600 bytes) and asked every time: a cached membership
// would show a member restarted with another server list late.
var Commands = []string{"srvr", "mntr", "conf"}

// memberPoller asks the four-letter words of every member.
type memberPoller struct {
	Client *fourletter.Client
	Logger log.Logger
	// refusedOnce remembers which member refused which word, so an expected
	// whitelist refusal is logged once, not every scrape.
	// It is shared by the member pollers of one Poller.
	refusedOnce *sync.Map
	// slots bounds the members polled at once across every ensemble (each
	// holds up to three connections at once); nil means no bound.
	slots chan struct{}
	// Admin, when set, reads the AdminServer where mntr or conf are refused.
	Admin *adminserver.Client
	// heard, when set, is told of each member as soon as it is polled, so a
	// scrape that gives up waiting keeps what was heard (see Poller.Poll).
	heard func(MemberSnapshot)
}

// errUnusable: the member answered, but nothing it said could be parsed.
var errUnusable = errors.New("no usable reply")

// DownReason names why a member gave nothing usable, from a fixed set (the
// error text itself never becomes a label).
func DownReason(err error) string {
	var dnsErr *net.DNSError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, errNoSlot):
		return "no_slot"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, fourletter.ErrTLSHandshake):
		return "tls"
	case errors.As(err, &dnsErr):
		return "resolve"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, fourletter.ErrEmptyResponse):
		return "empty"
	case errors.Is(err, errUnusable), errors.Is(err, fourletter.ErrResponseTooLarge):
		return "garbage"
	}
	return "other"
}

// errNoSlot: every poll slot stayed busy until the member's deadline.
// NoSlot tells it apart.
var errNoSlot = errors.New("no free poll slot before the deadline (see --zookeeper.max-concurrency)")

// NoSlot says whether a member was not polled for want of a poll slot.
func NoSlot(s MemberSnapshot) bool { return errors.Is(s.Err, errNoSlot) }

// PollEnsemble polls every member concurrently, each under its own timeout
// (bounded by ctx): a member that hangs costs its own deadline and nothing
// more.
func (p *memberPoller) PollEnsemble(ctx context.Context, members []config.Member, timeout time.Duration) []MemberSnapshot {
	out := make([]MemberSnapshot, len(members))
	// Every member has the same deadline, and the wait for a poll slot
	// counts against it, so a scrape stays bounded by one deadline whatever
	// the load. A goroutine starts only once its member has a slot: a
	// thousand members waiting cost no thousand goroutines.
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var wg sync.WaitGroup
	for i, m := range members {
		if p.slots != nil && !p.takeSlot(ctx) {
			// Counted and logged once per scrape by the caller (NoSlot),
			// not once per member.
			out[i] = MemberSnapshot{Member: m, State: StateUnknown, Allowed: map[string]bool{}, Err: errNoSlot, Duration: timeout}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if p.slots != nil {
				defer func() { <-p.slots }()
			}
			out[i] = p.PollMember(ctx, m)
			if p.heard != nil {
				p.heard(out[i])
			}
		}()
	}
	wg.Wait()
	return out
}

// takeSlot waits for a poll slot until ctx's deadline. A slot freed just
// as the deadline passes is given back: select picks at random between a
// ready slot and a done context, and on a busy machine the context's timer
// fires late, so a member started past its deadline would be called down
// for a timeout it never had the chance to meet.
func (p *memberPoller) takeSlot(ctx context.Context) bool {
	if expired(ctx) {
		return false
	}
	select {
	case p.slots <- struct{}{}:
		if expired(ctx) {
			<-p.slots
			return false
		}
		return true
	case <-ctx.Done():
		return false
	}
}

// expired says whether ctx is done or its deadline has passed (its timer
// may not have fired yet).
func expired(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

type reply struct {
	body []byte
	err  error
}

// PollMember asks srvr, mntr and conf of one member in parallel and falls
// back to ruok only when none of them gave anything usable.
func (p *memberPoller) PollMember(ctx context.Context, m config.Member) MemberSnapshot {
	start := time.Now()
	snap := MemberSnapshot{Member: m, State: StateUnknown, Allowed: map[string]bool{}}
	replies := make([]reply, len(Commands))
	var wg sync.WaitGroup
	for i, cmd := range Commands {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body, err := p.Client.Do(ctx, m.Address, cmd)
			replies[i] = reply{body, err}
		}()
	}
	wg.Wait()

	notServing, garbage := false, false
	var firstErr error
	for i, cmd := range Commands {
		r := replies[i]
		switch {
		case errors.Is(r.err, fourletter.ErrNotServing):
			snap.Up, snap.Allowed[cmd], notServing = true, true, true
			continue
		case errors.Is(r.err, fourletter.ErrNotWhitelisted):
			snap.Up, snap.Allowed[cmd] = true, false
			if p.firstRefusal(m.Address, cmd) {
				level.Debug(p.Logger).Log("msg", "Four-letter word not in the member's whitelist, falling back", "server", m.Address, "command", cmd)
			}
			continue
		case r.err != nil && !errors.Is(r.err, fourletter.ErrResponseTooLarge):
			if firstErr == nil {
				firstErr = r.err
			}
			continue
		}
		// A reply, possibly cut at the read cap: parse what came.
		if p.parse(&snap, cmd, r.body) {
			snap.Up, snap.Allowed[cmd] = true, true
		} else {
			garbage = true
		}
	}

	if p.Admin != nil {
		notServing = p.fromAdmin(ctx, &snap) || notServing
	}
	finishState(&snap, notServing)

	if !snap.Up && ctx.Err() == nil {
		// Nothing usable (garbage, empty replies): ruok at least tells a live
		// process from a dead one.
		body, err := p.Client.Do(ctx, m.Address, "ruok")
		if errors.Is(err, fourletter.ErrNotWhitelisted) {
			snap.Up, snap.Allowed["ruok"] = true, false
		} else if ok, _ := fourletter.ParseRuok(body); err == nil && ok {
			snap.Up, snap.Allowed["ruok"] = true, true
		}
	}
	if !snap.Up {
		// Bytes that made no sense say more than the words that got none.
		snap.Err = firstErr
		if garbage || snap.Err == nil {
			snap.Err = errUnusable
		}
		if DownReason(snap.Err) == "tls" {
			// A TLS failure is a configuration fault, not an outage: say it
			// loudly.
			level.Error(p.Logger).Log("msg", "TLS handshake with member failed", "server", m.Address, "err", snap.Err)
		} else {
			level.Debug(p.Logger).Log("msg", "Member did not answer", "server", m.Address, "err", snap.Err)
		}
	}
	snap.Duration = time.Since(start)
	return snap
}

func (p *memberPoller) firstRefusal(addr, cmd string) bool {
	if p.refusedOnce == nil {
		return true
	}
	_, logged := p.refusedOnce.LoadOrStore(addr+"\x00"+cmd, true)
	return !logged
}

// fromAdmin fills what the whitelist refused from the AdminServer, which
// ignores it: monitor for mntr, the membership for conf. It reports
// whether the AdminServer says the member is not serving.
func (p *memberPoller) fromAdmin(ctx context.Context, snap *MemberSnapshot) (notServing bool) {
	refused := func(cmd string) bool { allowed, asked := snap.Allowed[cmd]; return asked && !allowed }
	addr := snap.Member.Address
	var wg sync.WaitGroup
	if snap.Mntr == nil && refused("mntr") {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := p.Admin.Monitor(ctx, addr)
			switch {
			case errors.Is(err, fourletter.ErrNotServing):
				notServing = true
			case err != nil:
				level.Debug(p.Logger).Log("msg", "AdminServer monitor failed", "server", addr, "err", err)
			default:
				snap.Mntr = &m
				snap.Malformed += m.Malformed
			}
		}()
	}
	var conf *fourletter.Conf
	if snap.Conf == nil && refused("conf") {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := p.Admin.Membership(ctx, addr)
			if err != nil {
				level.Debug(p.Logger).Log("msg", "AdminServer membership failed", "server", addr, "err", err)
				return
			}
			conf = &c
		}()
	}
	wg.Wait()
	if conf != nil {
		conf.PeerType = "participant"
		if snap.Mntr != nil && snap.Mntr.ServerState == "observer" {
			conf.PeerType = "observer"
		}
		snap.Conf, snap.ConfFromAdmin = conf, true
	}
	return notServing
}

// Snapshot is what a member's replies say (word to raw reply), parsed
// without any I/O: the poller's own parsing, for tests and benchmarks that
// start from recorded replies.
func Snapshot(m config.Member, replies map[string][]byte) MemberSnapshot {
	p := memberPoller{Logger: log.NewNopLogger()}
	s := MemberSnapshot{Member: m, State: StateUnknown, Allowed: map[string]bool{}}
	for _, cmd := range Commands {
		if body, ok := replies[cmd]; ok && p.parse(&s, cmd, body) {
			s.Up, s.Allowed[cmd] = true, true
		}
	}
	finishState(&s, false)
	return s
}

// finishState sets State and Serving from what the member said: srvr's Mode
// first, then mntr's zk_server_state, then a "not serving" refusal.
func finishState(snap *MemberSnapshot, notServing bool) {
	switch {
	case snap.Srvr != nil:
		snap.State = normaliseState(snap.Srvr.Mode)
	case snap.Mntr != nil && snap.Mntr.ServerState != "":
		snap.State = normaliseState(snap.Mntr.ServerState)
	case notServing:
		snap.State = StateNotServing
	}
	snap.Serving = snap.State != StateUnknown && snap.State != StateNotServing
}

// parse fills snap from one reply and says whether the reply was usable.
func (p *memberPoller) parse(snap *MemberSnapshot, cmd string, body []byte) bool {
	var err error
	switch cmd {
	case "srvr":
		var s fourletter.Srvr
		if s, err = fourletter.ParseSrvr(bytes.NewReader(body)); err == nil {
			snap.Srvr = &s
		}
		snap.Malformed += s.Malformed
	case "mntr":
		var mn fourletter.Mntr
		if mn, err = fourletter.ParseMntr(bytes.NewReader(body)); err == nil {
			snap.Mntr = &mn
		}
		snap.Malformed += mn.Malformed
	case "conf":
		var c fourletter.Conf
		if c, err = fourletter.ParseConf(bytes.NewReader(body)); err == nil {
			snap.Conf = &c
		}
		snap.Malformed += c.Malformed
	}
	if err != nil {
		level.Debug(p.Logger).Log("msg", "Unusable reply", "server", snap.Member.Address, "command", cmd, "err", err)
		return false
	}
	return true
}

func normaliseState(s string) string {
	switch s {
	case "leader", "follower", "observer", "standalone":
		return s
	case "read-only", "read_only", "readonly":
		return StateReadOnly
	}
	return StateUnknown
}

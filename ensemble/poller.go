package ensemble

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log"

	"github.com/zookeeper-exporter/zookeeper_exporter/adminserver"
	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// Target is one ensemble to poll, as resolved for one scrape.
type Target struct {
	Name    string
	Members []config.Member
	Timeout time.Duration
	// TLS, when set, is used towards the members' secure client port (and
	// an https AdminServer). TLSKey names its settings: polls are shared by
	// what is polled, not by which configuration load built TLS.
	TLS    *tls.Config
	TLSKey string
	// AdminPort, when not 0, is the members' AdminServer port, read where
	// the whitelist refuses mntr or conf; AdminScheme is http or https.
	AdminPort   int
	AdminScheme string
	// Discover: Members are seeds; the ensemble's membership says whom
	// else to poll, and the roles; at most DiscoverMax members in all (0:
	// config.DefaultDiscoverMax).
	Discover    bool
	DiscoverMax int
	// Probe, when set, opens a client session per member (and writes the
	// canary) beside the four-letter words; see ClientProbe.
	Probe *ClientProbe
	// Vantage names where this exporter watches the ensemble from.
	Vantage string
}

// TargetOf is the poll of a configured ensemble, under its own member
// deadline (a scrape that must answer sooner gives Poll a shorter context).
func TargetOf(e config.Ensemble) Target {
	t := Target{Name: e.Name, Members: e.Servers, Timeout: time.Duration(e.Timeout), TLS: e.ClientTLS(), AdminPort: e.AdminPort, AdminScheme: e.AdminScheme,
		Discover: e.Discover, DiscoverMax: e.DiscoverMax}
	if e.TLS != nil {
		t.TLSKey = fmt.Sprintf("%+v", *e.TLS)
	}
	if e.ClientProbe {
		t.Probe = &ClientProbe{Znode: e.ClientProbeZnode, CanaryZnode: e.CanaryZnode, Interval: time.Duration(e.ClientProbeInterval), Digest: e.Digest()}
	}
	t.Vantage = e.Vantage
	return t
}

// stateKey identifies an ensemble across scrapes (and reloads): its name,
// members and discovery, not the settings of one configuration load.
func (t Target) stateKey() string {
	k := t.Name + "\x00" + strconv.FormatBool(t.Discover)
	for _, m := range t.Members {
		k += "\x00" + m.Address + strconv.FormatBool(m.Observer)
	}
	return k
}

// pollKey identifies a poll that concurrent scrapes share: the same
// members asked the same way. Neither a scrape's own deadline nor a
// configuration reload makes a new poll: a crowd of requests with
// different timeouts costs the members one round of words, not one each.
func (t Target) pollKey() string {
	k := fmt.Sprintf("%s\x00%s\x00%d\x00%d%s\x00%s", t.stateKey(), t.TLSKey, t.Timeout, t.AdminPort, t.AdminScheme, t.Vantage)
	if p := t.Probe; p != nil {
		// The credentials by their hash only: keys may be logged one day.
		k += fmt.Sprintf("\x00probe\x00%s\x00%s\x00%d\x00%x", p.Znode, p.CanaryZnode, p.Interval, sha256.Sum256(p.Digest))
	}
	return k
}

// Result is one poll of every member of a target, and what it implies.
type Result struct {
	Target   Target
	Members  []MemberSnapshot
	View     View
	Duration time.Duration
	// Unaddressable counts, with discovery, the servers of the membership
	// whose client address cannot be told (-1: no discovery).
	Unaddressable int
	// Canary is the last canary write (nil: none configured, or none yet);
	// ProbeConnections counts the connections the client probes and the
	// canary of this ensemble opened since the exporter started.
	Canary           *ProbeResult
	ProbeConnections uint64
}

// NewResult derives the view of one poll; fallback is the membership to use
// where no member tells its own (see Derive).
func NewResult(t Target, snaps []MemberSnapshot, fallback *Membership, took time.Duration) Result {
	return Result{Target: t, Members: snaps, View: Derive(snaps, fallback), Duration: took, Unaddressable: -1}
}

// Poller polls targets and shares a poll in flight between concurrent
// scrapes of the same ensemble, so several Prometheus replicas do not each
// send their own round of words to every member.
type Poller struct {
	Logger log.Logger
	// Resolver looks up member names; nil means the system's.
	Resolver *net.Resolver
	mu       sync.Mutex
	flights  map[string]*flight
	refused  sync.Map
	slots    chan struct{}
	// admin keeps one HTTP client per TLS configuration, so AdminServer
	// connections are reused across scrapes; bounded, as every
	// configuration load builds new TLS configurations.
	admin bounded[*tls.Config, *http.Client]
	// states holds, per ensemble, what discovery learned, the last
	// /zookeeper/config read and the last membership told.
	states bounded[string, *targetState]
}

// DefaultMaxConcurrency is how many members are polled at once by default.
const DefaultMaxConcurrency = 256

// NewPoller returns a Poller that logs to logger and polls at most
// maxConcurrency members at once across all ensembles (0: no bound). A
// member holds up to three connections at once while polled (srvr, mntr
// and conf in parallel; ruok and the AdminServer only after them).
func NewPoller(logger log.Logger, maxConcurrency int) *Poller {
	p := &Poller{Logger: logger, admin: bounded[*tls.Config, *http.Client]{max: 64}, states: bounded[string, *targetState]{max: maxTargetStates}}
	if maxConcurrency > 0 {
		p.slots = make(chan struct{}, maxConcurrency)
	}
	return p
}

func (p *Poller) adminHTTP(tlsConfig *tls.Config) *http.Client {
	return p.admin.get(tlsConfig, func() *http.Client {
		tr := &http.Transport{TLSClientConfig: tlsConfig, MaxIdleConnsPerHost: 2, IdleConnTimeout: 2 * time.Minute,
			DialContext: (&net.Dialer{Resolver: p.Resolver}).DialContext}
		return &http.Client{Transport: tr}
	})
}

// state returns what is remembered of the target.
func (p *Poller) state(t Target) *targetState {
	return p.states.get(t.stateKey(), func() *targetState { return &targetState{} })
}

// flight is one poll in progress, shared by the scrapes that ask for the
// same target meanwhile.
type flight struct {
	done   chan struct{}
	result Result
	mu     sync.Mutex
	heard  map[string]MemberSnapshot
	// told are the scrapes' PollTelling callbacks, told of each member
	// recorded after they joined (the ones before, when they joined).
	told []func(MemberSnapshot)
}

func (f *flight) record(s MemberSnapshot) {
	f.mu.Lock()
	f.heard[s.Member.Address] = s
	told := f.told
	f.mu.Unlock()
	for _, tell := range told {
		tell(s)
	}
}

// join adds tell to the flight's callbacks and returns the members heard
// so far, for the caller to tell: each reply heard is told once, by join
// or by record.
func (f *flight) join(tell func(MemberSnapshot)) []MemberSnapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	heard := make([]MemberSnapshot, 0, len(f.heard))
	for _, s := range f.heard {
		heard = append(heard, s)
	}
	// A copy, not an append in place: record reads the slice it took
	// without the lock.
	f.told = append(f.told[:len(f.told):len(f.told)], tell)
	return heard
}

// Poll returns the snapshot of one target: every member, always. A member
// not heard from when ctx ends (the scrape's own deadline) is down with
// reason timeout, the members heard from by then keep what they said; the
// shared poll carries on for the other scrapes that wait for it, bounded
// by the members' own deadlines.
func (p *Poller) Poll(ctx context.Context, t Target) Result {
	return p.PollTelling(ctx, t, nil)
}

// PollTelling is Poll that also tells heard of each member as soon as its
// poll ends (when it joins a poll already under way, of the members heard
// by then, at once), so a scrape can work on the members' replies while it
// waits for the others. heard runs on the poll's goroutines, and may run
// after PollTelling has returned (the poll carries on for other scrapes):
// it must return quickly and ignore what comes too late for it.
func (p *Poller) PollTelling(ctx context.Context, t Target, heard func(MemberSnapshot)) Result {
	start := time.Now()
	key := t.pollKey()
	p.mu.Lock()
	f := p.flights[key]
	if f == nil {
		f = &flight{done: make(chan struct{}), heard: map[string]MemberSnapshot{}}
		if p.flights == nil {
			p.flights = map[string]*flight{}
		}
		p.flights[key] = f
		go func() {
			// The poll outlives a scrape that gives up: others may share it.
			f.result = p.poll(context.WithoutCancel(ctx), t, start, f.record)
			p.mu.Lock()
			delete(p.flights, key)
			p.mu.Unlock()
			close(f.done)
		}()
	}
	var already []MemberSnapshot
	if heard != nil {
		// Under p.mu, as the flight is still in p.flights: its poll has
		// not ended, so every member it hears after the join tells heard.
		already = f.join(heard)
	}
	p.mu.Unlock()
	for _, s := range already {
		heard(s)
	}
	select {
	case <-f.done:
		return f.result
	case <-ctx.Done():
	}
	// With discovery, the members learned so far are part of the answer
	// too: a scrape that gives up early must not lose their series.
	st := p.state(t)
	st.mu.Lock()
	last, members := st.last, t.Members
	if t.Discover {
		members = union(st.members, t.Members)
	}
	st.mu.Unlock()
	snaps := make([]MemberSnapshot, len(members))
	f.mu.Lock()
	for i, m := range members {
		s, ok := f.heard[m.Address]
		if !ok {
			s = MemberSnapshot{Member: m, State: StateUnknown, Allowed: map[string]bool{}, Err: context.DeadlineExceeded, Duration: time.Since(start)}
		}
		s.Member.Observer = m.Observer // the ensemble's word on roles, as discoverPoll gives it
		snaps[i] = s
	}
	f.mu.Unlock()
	r := NewResult(t, snaps, last, time.Since(start))
	if t.Probe != nil {
		// This round's probes are not in yet: the last ones stand (their
		// age says so), rather than series that come and go.
		st.mu.Lock()
		for i := range r.Members {
			if res, ok := st.probes[r.Members[i].Member.Address]; ok {
				res.Connections = 0
				r.Members[i].Probe = &res
			}
		}
		if st.canary != nil {
			c := *st.canary
			r.Canary = &c
		}
		r.ProbeConnections = st.probeConns
		st.mu.Unlock()
	}
	return r
}

func (p *Poller) poll(ctx context.Context, t Target, start time.Time, heard func(MemberSnapshot)) Result {
	mp := memberPoller{Client: &fourletter.Client{TLS: t.TLS, Resolver: p.Resolver}, Logger: p.Logger, refusedOnce: &p.refused, slots: p.slots, heard: heard}
	if t.AdminPort != 0 {
		mp.Admin = &adminserver.Client{HTTP: p.adminHTTP(t.TLS), Scheme: t.AdminScheme, Port: t.AdminPort}
	}
	state := p.state(t)
	var probes <-chan probeRound
	if t.Probe != nil {
		// Beside the words, under the same deadline: the scrape still
		// takes at most one member deadline.
		probes = p.startProbes(ctx, t, start, state)
	}
	var r Result
	if t.Discover {
		r = p.discoverPoll(ctx, &mp, t, start, state)
	} else {
		snaps := mp.PollEnsemble(ctx, t.Members, t.Timeout)
		r = NewResult(t, snaps, p.fallback(ctx, t, start, state, snaps), time.Since(start))
		state.remember(r.View.Membership)
	}
	if probes != nil {
		round := <-probes
		for i := range r.Members {
			if res, ok := round.members[r.Members[i].Member.Address]; ok {
				r.Members[i].Probe = &res
			}
		}
		r.Canary, r.ProbeConnections = round.canary, round.connections
	}
	return r
}

// bounded is a map that forgets its oldest entry past max: caches keyed by
// what scrapes bring (ad-hoc /probe lists, configuration loads) must not
// grow without end.
type bounded[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	m     map[K]V
	order []K
}

func (b *bounded[K, V]) get(k K, make func() V) V {
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.m[k]; ok {
		return v
	}
	if b.m == nil {
		b.m = map[K]V{}
	}
	if b.max > 0 && len(b.order) >= b.max {
		delete(b.m, b.order[0])
		b.order = b.order[1:]
	}
	v := make()
	b.m[k] = v
	b.order = append(b.order, k)
	return v
}

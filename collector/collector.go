package collector

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

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
	// an https AdminServer).
	TLS *tls.Config
	// AdminPort, when not 0, is the members' AdminServer port, read where
	// the whitelist refuses mntr or conf; AdminScheme is http or https.
	AdminPort   int
	AdminScheme string
	// Discover: Members are seeds; the ensemble's membership says whom
	// else to poll, and the roles.
	Discover bool
}

// key identifies a poll that concurrent scrapes may share.
func (t Target) key() string {
	k := fmt.Sprintf("%s\x00%p\x00%d\x00%d%s\x00%v", t.Name, t.TLS, t.Timeout, t.AdminPort, t.AdminScheme, t.Discover)
	for _, m := range t.Members {
		k += "\x00" + m.Address + strconv.FormatBool(m.Observer)
	}
	return k
}

// Result is one poll of every member of a target, and what it implies.
type Result struct {
	Target   Target
	Members  []MemberSnapshot
	View     View
	Duration time.Duration
}

// Scraper polls targets and shares a poll in flight between concurrent
// scrapes of the same ensemble, so several Prometheus replicas do not each
// send their own round of words to every member.
type Scraper struct {
	Logger  log.Logger
	group   singleflight.Group
	refused sync.Map
	slots   chan struct{}
	// Resolver looks up member names; nil means the system's.
	Resolver *net.Resolver
	// adminClients keeps one HTTP client per TLS configuration, so the
	// AdminServer connections are reused across scrapes.
	adminClients sync.Map
	// discovered holds, per ensemble, the members discovery learned.
	discovered sync.Map
}

func (s *Scraper) adminHTTP(tlsConfig *tls.Config) *http.Client {
	if c, ok := s.adminClients.Load(tlsConfig); ok {
		return c.(*http.Client)
	}
	tr := &http.Transport{TLSClientConfig: tlsConfig, MaxIdleConnsPerHost: 2, IdleConnTimeout: 2 * time.Minute,
		DialContext: (&net.Dialer{Resolver: s.Resolver}).DialContext}
	c, _ := s.adminClients.LoadOrStore(tlsConfig, &http.Client{Transport: tr})
	return c.(*http.Client)
}

// DefaultMaxConcurrency is how many members are polled at once by default.
const DefaultMaxConcurrency = 256

// NewScraper returns a Scraper that logs to logger and polls at most
// maxConcurrency members at once across all ensembles (0: no bound). A
// member holds up to four connections while polled.
func NewScraper(logger log.Logger, maxConcurrency int) *Scraper {
	s := &Scraper{Logger: logger}
	if maxConcurrency > 0 {
		s.slots = make(chan struct{}, maxConcurrency)
	}
	return s
}

// Poll returns the snapshot of one target. A caller whose ctx ends first gets
// ok=false; the shared poll carries on for the others, bounded by the
// members' own deadlines.
func (s *Scraper) Poll(ctx context.Context, t Target) (Result, bool) {
	ch := s.group.DoChan(t.key(), func() (any, error) {
		start := time.Now()
		p := Poller{Client: &fourletter.Client{TLS: t.TLS, Resolver: s.Resolver}, Logger: s.Logger, refusedOnce: &s.refused, slots: s.slots}
		if t.AdminPort != 0 {
			p.Admin = &adminserver.Client{HTTP: s.adminHTTP(t.TLS), Scheme: t.AdminScheme, Port: t.AdminPort}
		}
		var snaps []MemberSnapshot
		if t.Discover {
			snaps = s.discoverPoll(context.WithoutCancel(ctx), &p, t)
		} else {
			snaps = p.PollEnsemble(context.WithoutCancel(ctx), t.Members, t.Timeout)
		}
		return Result{Target: t, Members: snaps, View: Derive(snaps), Duration: time.Since(start)}, nil
	})
	select {
	case r := <-ch:
		return r.Val.(Result), true
	case <-ctx.Done():
		return Result{}, false
	}
}

// Collector is the prometheus.Collector of one scrape: it polls its targets
// in Collect, under the scrape's context, and builds const metrics from that
// one snapshot. It holds no lock while collecting.
type Collector struct {
	Ctx     context.Context
	Scraper *Scraper
	Targets []Target
}

// Describe sends nothing: the metric set depends on what the servers send
// (mntr keys differ by version and role), so this is an unchecked collector.
func (c *Collector) Describe(chan<- *prometheus.Desc) {}

// Collect polls every target in parallel and emits their metrics.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	results := make([]Result, len(c.Targets))
	oks := make([]bool, len(c.Targets))
	var wg sync.WaitGroup
	for i, t := range c.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], oks[i] = c.Scraper.Poll(c.Ctx, t)
		}()
	}
	wg.Wait()
	e := newEmitter(ch)
	for i, r := range results {
		if oks[i] {
			emitResult(e, r)
		}
	}
	if e.dropped > 0 {
		level.Debug(c.Scraper.Logger).Log("msg", "Dropped series that would have made the exposition invalid", "count", e.dropped)
	}
}

var (
	memberLabels   = []string{"ensemble", "server"}
	ensembleLabels = []string{"ensemble"}
)

// emitResult turns one ensemble snapshot into metrics.
func emitResult(e *emitter, r Result) {
	name := r.Target.Name
	for i, s := range r.Members {
		emitMember(e, name, s, r.View, i)
	}
	v := r.View
	g := func(metric, help string, val float64) { e.gauge(metric, help, val, ensembleLabels, name) }
	g("ensemble_members", "Members polled in this ensemble.", float64(v.Members))
	g("ensemble_voters", "Voting members, as configured (a member marked :observer is not one).", float64(v.Voters))
	g("ensemble_observers", "Observers, as configured.", float64(v.Observers))
	g("ensemble_quorum_size", "Voters needed for a quorum: floor(voters / 2) + 1.", float64(v.QuorumSize))
	g("ensemble_voters_up", "Voters that answered and serve as leader, follower or standalone.", float64(v.VotersUp))
	if v.HasSynced {
		g("ensemble_synced_voters", "Voters in sync as the leader counts them: its zk_synced_followers + 1.", float64(v.SyncedVoters))
	}
	g("ensemble_leaders", "Members reporting leader: 1 is healthy, 0 no leader, more than 1 a split view.", float64(len(v.Leaders)))
	for _, l := range v.Leaders {
		e.gauge("ensemble_leader_info", "1 for the member that reports leader.", 1, memberLabels, name, l)
	}
	if v.HasEpoch {
		g("ensemble_epoch", "The leader's zxid epoch; it rises at every election.", float64(v.Epoch))
	}
	g("ensemble_quorum", "1 when a serving leader has a majority of the voters in sync (or up, without mntr).", boolFloat(v.Quorum))
	g("ensemble_failure_tolerance", "How many more voters can fail before quorum is lost: the voters that count (the smaller of those up and the leader's synced count) minus the quorum size. Negative: short of quorum.", float64(v.FailureTolerance))
	for i, s := range r.Members {
		e.gauge("ensemble_member_safe_to_stop", "1 when stopping this member now still leaves a quorum (observers: when quorum holds).", boolFloat(v.SafeToStop[i]), memberLabels, name, s.Member.Address)
	}
	if v.HasConfig {
		g("ensemble_config_consistent", "1 when every member that answers conf reports the same membership (server lines and version).", boolFloat(v.ConfigConsistent))
	}
	if anyTrue(v.HasLag) {
		g("ensemble_max_zxid_lag", "The largest zxid lag of a member behind the leader, in transactions.", v.MaxZxidLag)
	}
	g("ensemble_poll_duration_seconds", "Wall time of the poll of every member of the ensemble.", r.Duration.Seconds())
}

func emitMember(e *emitter, ensemble string, s MemberSnapshot, v View, idx int) {
	server := s.Member.Address
	g := func(metric, help string, val float64) { e.gauge(metric, help, val, memberLabels, ensemble, server) }
	g("up", "1 when the member answered a four-letter word within its deadline.", boolFloat(s.Up))
	g("serving", "1 when the member serves clients; 0 when not serving requests or unreachable.", boolFloat(s.Serving))
	for _, st := range States {
		e.gauge("server_state", "The member's state; exactly one state is 1.", boolFloat(s.State == st), stateLabels, ensemble, server, st)
	}
	g("member_poll_duration_seconds", "Time this member's poll took in this scrape.", s.Duration.Seconds())
	for _, cmd := range allowedCommands {
		if allowed, ok := s.Allowed[cmd]; ok {
			e.gauge("four_letter_word_allowed", "0 when the member refuses the four-letter word (4lw.commands.whitelist), 1 when it answers it.", boolFloat(allowed), commandLabels, ensemble, server, cmd)
		}
	}
	if !s.Up {
		e.gauge("member_down_reason", "1 for why the member gave nothing usable: refused, timeout (hung), reset, tls, resolve, empty, garbage, no_slot (--zookeeper.max-concurrency) or other.",
			1, reasonLabels, ensemble, server, DownReason(s.Err))
		return
	}
	g("member_malformed_lines", "Lines of this member's replies skipped as malformed in this scrape.", float64(s.Malformed))

	version := ""
	if s.Mntr != nil {
		version = fourletter.ShortVersion(s.Mntr.Version)
	}
	if version == "" && s.Srvr != nil {
		version = fourletter.ShortVersion(s.Srvr.Version)
	}
	serverID, peerType := "", ""
	if s.Conf != nil {
		if s.Conf.ServerID >= 0 {
			serverID = strconv.FormatInt(s.Conf.ServerID, 10)
		}
		peerType = s.Conf.PeerType
	}
	if version != "" || serverID != "" {
		e.gauge("server_info", "Constant 1: the member's version (mntr/srvr) and server id and peer type (conf).", 1, infoLabels, ensemble, server, version, serverID, peerType)
	}

	if s.Srvr != nil && s.Srvr.HasZxid {
		g("zxid_epoch", "High 32 bits of the member's last zxid (srvr Zxid): the epoch of the leader it follows.", float64(s.Srvr.ZxidEpoch()))
		g("zxid_sequence", "Low 32 bits of the member's last zxid (srvr Zxid): the transaction's sequence number within the epoch (SPEC's zxid_counter, renamed: promtool rejects \"counter\" in a gauge's name).", float64(s.Srvr.ZxidCounter()))
	}
	if v.HasLag[idx] {
		g("zxid_lag", "The leader's zxid counter minus this member's, when both are in the leader's epoch.", v.ZxidLag[idx])
	}
	if s.Conf != nil && s.Conf.HasMembership {
		g("member_voters_configured", "Voters in this member's own configuration (conf membership).", float64(s.Conf.Voters()))
		if !s.ConfFromAdmin { // the AdminServer's voting_view has no observers
			g("member_observers_configured", "Observers in this member's own configuration (conf membership).", float64(s.Conf.Observers()))
		}
		if ver, err := strconv.ParseUint(s.Conf.ConfigVersion, 16, 64); err == nil {
			g("member_config_version", "The configuration version this member reports (conf version=, hex in ZooKeeper).", float64(ver))
		}
		for _, line := range s.Conf.Servers {
			e.gauge("member_config_server_info", "Constant 1 for each server line in this member's own configuration: who believes what.",
				1, configServerLabels, ensemble, server, strconv.FormatInt(line.ID, 10), line.Role, line.Addresses)
		}
	}

	// Curated values: from mntr, else from srvr where it has them.
	for _, c := range curatedMntr {
		val, ok := 0.0, false
		if s.Mntr != nil {
			val, ok = s.Mntr.Value(c.key)
		}
		if !ok && s.Srvr != nil && c.srvr != nil && s.Mntr == nil {
			val, ok = c.srvr(s.Srvr)
		}
		if !ok {
			continue
		}
		if c.ms {
			val /= 1000
		}
		if c.kind == kindCounter {
			e.counter(c.name, c.help, val, memberLabels, ensemble, server)
		} else {
			e.gauge(c.name, c.help, val, memberLabels, ensemble, server)
		}
	}
	if s.Mntr == nil {
		return
	}
	mapped := s.mapped
	if mapped == nil {
		mapped = mapMntr(s.Mntr)
	}
	memberValues := []string{ensemble, server}
	for _, m := range mapped {
		labelNames, labelValues := memberLabels, memberValues
		if len(m.labelNames) > 0 {
			labelNames = append(memberLabels[:2:2], m.labelNames...)
			labelValues = append([]string{ensemble, server}, m.labelValues...)
		}
		switch m.kind {
		case kindGauge:
			e.gauge(m.name, m.help, m.value, labelNames, labelValues...)
		case kindCounter:
			e.counter(m.name, m.help, m.value, labelNames, labelValues...)
		case kindSummary:
			e.summary(m.name, m.help, m.count, m.sum, m.quantiles, labelNames, labelValues...)
		}
	}
}

// allowedCommands are the words whose whitelist status is reported.
var allowedCommands = append(Commands[:len(Commands):len(Commands)], "ruok")

var (
	stateLabels        = []string{"ensemble", "server", "state"}
	commandLabels      = []string{"ensemble", "server", "command"}
	reasonLabels       = []string{"ensemble", "server", "reason"}
	infoLabels         = []string{"ensemble", "server", "version", "server_id", "peer_type"}
	configServerLabels = []string{"ensemble", "server", "sid", "role", "address"}
)

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

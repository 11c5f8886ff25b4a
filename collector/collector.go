package collector

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/zookeeper-exporter/zookeeper_exporter/adminserver"
	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
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
	Members  []ensemble.MemberSnapshot
	View     ensemble.View
	Duration time.Duration
	// Unaddressable counts, with discovery, the servers of the membership
	// whose client address cannot be told (-1: no discovery).
	Unaddressable int
	// mapped is each member's mntr turned into passthrough metrics, done
	// in parallel once per poll, not once per scrape that shares it.
	mapped [][]mntrMetric
}

// NewResult derives the view of one poll; fallback is the membership to use
// where no member tells its own (see ensemble.Derive).
func NewResult(t Target, snaps []ensemble.MemberSnapshot, fallback *ensemble.Membership, took time.Duration) Result {
	return Result{Target: t, Members: snaps, View: ensemble.Derive(snaps, fallback), Duration: took, Unaddressable: -1, mapped: mapAll(snaps)}
}

// mapAll maps every member's mntr, on as many goroutines as there are CPUs.
func mapAll(snaps []ensemble.MemberSnapshot) [][]mntrMetric {
	out := make([][]mntrMetric, len(snaps))
	workers := min(runtime.GOMAXPROCS(0), len(snaps))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < len(snaps); i = int(next.Add(1) - 1) {
				if snaps[i].Mntr != nil {
					out[i] = mapMntr(snaps[i].Mntr)
				}
			}
		}()
	}
	wg.Wait()
	return out
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
	// states holds, per ensemble, what discovery learned and the last
	// /zookeeper/config read.
	states targetStates
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
		// The poll outlives a scrape that gives up: others may share it.
		ctx := context.WithoutCancel(ctx)
		if t.Discover {
			return s.discoverPoll(ctx, &p, t, start), nil
		}
		state := s.state(t.key())
		snaps := p.PollEnsemble(ctx, t.Members, t.Timeout)
		r := NewResult(t, snaps, s.fallback(ctx, t, start, state, snaps), time.Since(start))
		state.remember(r.View.Membership)
		return r, nil
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
	v := r.View
	for i, s := range r.Members {
		var mapped []mntrMetric
		if i < len(r.mapped) {
			mapped = r.mapped[i]
		} else if s.Mntr != nil {
			mapped = mapMntr(s.Mntr)
		}
		emitMember(e, name, s, v, i, mapped)
	}
	g := func(metric, help string, val float64) { e.gauge(metric, help, val, ensembleLabels, name) }
	m := v.Membership
	g("ensemble_members", "Members polled in this ensemble.", float64(v.Members))
	g("ensemble_voters", "Voting members in the ensemble's own membership (its conf, AdminServer or /zookeeper/config; the configured list when none tells).", float64(v.Voters))
	g("ensemble_observers", "Observers in the ensemble's own membership (the configured list when none tells).", float64(v.Observers))
	g("ensemble_quorum_size", "The fewest voters that can form a quorum under the ensemble's rule: floor(voters / 2) + 1 for a majority; for hierarchical quorums, a majority of the weight in a majority of the groups.", float64(v.QuorumSize))
	g("ensemble_voters_up", "Watched voters that answered and serve as leader, follower or standalone.", float64(v.VotersUp))
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
	g("ensemble_quorum", "1 when the ensemble has quorum, on evidence: a serving leader with enough synced voters, or a serving follower or observer (learners stop serving without a leader). 0 when the members reached answer and none serves, or none answers.", boolFloat(v.Quorum))
	g("ensemble_failure_tolerance", "How many more voter failures the ensemble survives for sure, under its own quorum rule: the fewest further failures that can break quorum, minus one. A voter the exporter cannot see, or the leader does not count as synced, counts as down. Negative: short of quorum by that many voters.", float64(v.FailureTolerance))
	for i, s := range r.Members {
		e.gauge("ensemble_member_safe_to_stop", "1 when stopping this member now still leaves a quorum under the ensemble's rule with the voters known up (observers: when quorum holds); 0 also with more than one leader.", boolFloat(v.SafeToStop[i]), memberLabels, name, s.Member.Address)
	}
	e.gauge("ensemble_membership_info", "Constant 1: where the membership came from (conf, adminserver, znode, or configured when no member told it) and the quorum rule (majority or hierarchical).",
		1, membershipLabels, name, m.Source, ruleName(m.Rule))
	if ver, err := strconv.ParseUint(m.Version, 16, 64); err == nil {
		g("ensemble_config_version", "The version of the membership the ensemble commits to (the newest the members report; hex in ZooKeeper).", float64(ver))
	}
	if m.FromEnsemble() {
		watchedAs := map[int]string{}
		for i, j := range v.ServerOf {
			if j >= 0 {
				watchedAs[j] = r.Members[i].Member.Address
			}
		}
		for j, srv := range m.Servers {
			addr, watched := watchedAs[j]
			if !watched {
				addr = srv.ClientAddress
			}
			e.gauge("ensemble_server_watched", "For each server of the ensemble's membership: 1 when the exporter polls it, 0 when not (its view is partial: that server counts as down in the safety answers). server is where it is polled, or its client address when the server line tells it.",
				boolFloat(watched), serverWatchedLabels, name, strconv.FormatInt(srv.ID, 10), srv.Role, addr)
		}
		g("ensemble_unwatched_voters", "Voters of the ensemble's membership the exporter does not poll.", float64(v.UnwatchedVoters()))
		g("ensemble_unwatched_observers", "Observers of the ensemble's membership the exporter does not poll.", float64(len(v.Unwatched)-v.UnwatchedVoters()))
	}
	if r.Unaddressable >= 0 {
		g("ensemble_discovery_unaddressable_servers", "Servers of the membership whose client address discovery cannot tell (plain server lines, members sharing a host): counted in the arithmetic, not polled.", float64(r.Unaddressable))
	}
	if v.HasConfig {
		g("ensemble_config_consistent", "1 when every member that answers conf reports the same membership (server lines, groups, weights and version).", boolFloat(v.ConfigConsistent))
	}
	if anyTrue(v.HasLag) {
		g("ensemble_max_zxid_lag", "The largest zxid lag of a member behind the leader, in transactions.", v.MaxZxidLag)
	}
	g("ensemble_poll_duration_seconds", "Wall time of the poll of every member of the ensemble.", r.Duration.Seconds())
}

func ruleName(r ensemble.Rule) string {
	if r.IsHierarchical() {
		return "hierarchical"
	}
	return "majority"
}

func emitMember(e *emitter, ensembleName string, s ensemble.MemberSnapshot, v ensemble.View, idx int, mapped []mntrMetric) {
	server := s.Member.Address
	g := func(metric, help string, val float64) { e.gauge(metric, help, val, memberLabels, ensembleName, server) }
	g("up", "1 when the member answered a four-letter word within its deadline.", boolFloat(s.Up))
	g("serving", "1 when the member serves clients; 0 when not serving requests or unreachable.", boolFloat(s.Serving))
	for _, st := range ensemble.States {
		e.gauge("server_state", "The member's state; exactly one state is 1.", boolFloat(s.State == st), stateLabels, ensembleName, server, st)
	}
	g("member_poll_duration_seconds", "Time this member's poll took in this scrape.", s.Duration.Seconds())
	for _, cmd := range allowedCommands {
		if allowed, ok := s.Allowed[cmd]; ok {
			e.gauge("four_letter_word_allowed", "0 when the member refuses the four-letter word (4lw.commands.whitelist), 1 when it answers it.", boolFloat(allowed), commandLabels, ensembleName, server, cmd)
		}
	}
	if v.InMembership[idx] >= 0 {
		g("member_in_membership", "1 when the ensemble's membership names this member, 0 when it does not (a stale entry in the exporter's configuration, or a member of another ensemble).", float64(v.InMembership[idx]))
	}
	if v.RoleKnown[idx] {
		g("member_role_mismatch", "1 when the configured role (:observer or not) contradicts the role the ensemble gives the member; the exporter follows the ensemble.", boolFloat(v.RoleMismatch[idx]))
	}
	if !s.Up {
		e.gauge("member_down_reason", "1 for why the member gave nothing usable: refused, timeout (hung), reset, tls, resolve, empty, garbage, no_slot (--zookeeper.max-concurrency) or other.",
			1, reasonLabels, ensembleName, server, DownReason(s.Err))
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
		e.gauge("server_info", "Constant 1: the member's version (mntr/srvr) and server id and peer type (conf).", 1, infoLabels, ensembleName, server, version, serverID, peerType)
	}

	if s.Srvr != nil && s.Srvr.HasZxid {
		g("zxid_epoch", "High 32 bits of the member's last zxid (srvr Zxid): the epoch of the leader it follows.", float64(s.Srvr.ZxidEpoch()))
		g("zxid_sequence", "Low 32 bits of the member's last zxid (srvr Zxid): the transaction's sequence number within the epoch (not named zxid_counter: promtool rejects \"counter\" in a gauge's name).", float64(s.Srvr.ZxidCounter()))
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
				1, configServerLabels, ensembleName, server, strconv.FormatInt(line.ID, 10), line.Role, line.Addresses)
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
			e.counter(c.name, c.help, val, memberLabels, ensembleName, server)
		} else {
			e.gauge(c.name, c.help, val, memberLabels, ensembleName, server)
		}
	}
	memberValues := []string{ensembleName, server}
	for _, m := range mapped {
		labelNames, labelValues := memberLabels, memberValues
		if len(m.labelNames) > 0 {
			labelNames = append(memberLabels[:2:2], m.labelNames...)
			labelValues = append([]string{ensembleName, server}, m.labelValues...)
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
	stateLabels         = []string{"ensemble", "server", "state"}
	commandLabels       = []string{"ensemble", "server", "command"}
	reasonLabels        = []string{"ensemble", "server", "reason"}
	infoLabels          = []string{"ensemble", "server", "version", "server_id", "peer_type"}
	configServerLabels  = []string{"ensemble", "server", "sid", "role", "address"}
	membershipLabels    = []string{"ensemble", "source", "rule"}
	serverWatchedLabels = []string{"ensemble", "sid", "role", "server"}
)

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

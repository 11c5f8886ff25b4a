// Package collector turns polls of ZooKeeper ensembles (ensemble.Result)
// into Prometheus metrics: the fixed metrics, whose descriptors are known
// in advance (Ensembles), and the passthrough of every other numeric mntr
// key, whose names depend on what the servers send (Passthrough). It polls
// nothing itself.
package collector

import (
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-kit/log"
	"github.com/go-kit/log/level"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// Ensembles is the collector of the fixed metrics of one scrape's polls.
type Ensembles struct {
	Results []ensemble.Result
	Limits  Limits
	// Names remembers which drops were logged (nil: log every scrape).
	Names  *Names
	Logger log.Logger
	direct bool // for Gather: series without descriptors
}

// Describe lists every fixed metric: a pedantic registry checks them.
func (c Ensembles) Describe(ch chan<- *prometheus.Desc) {
	for _, f := range fixedMetrics {
		ch <- f.desc
	}
}

// Collect sends the fixed metrics of every ensemble.
func (c Ensembles) Collect(ch chan<- prometheus.Metric) {
	members := 0
	for _, r := range c.Results {
		members += len(r.Members)
	}
	// About 40 fixed series a member, plus the ensemble's own.
	e := newEmitter(ch, nil, len(fixedMetrics), 48*members)
	e.direct = c.direct
	lim := c.Limits.withDefaults()
	d := dropLog{c.Names, c.Logger}
	for _, r := range c.Results {
		emitResult(e, r, lim, d)
	}
	logDropped(c.Logger, e)
}

// Passthrough is the collector of every numeric mntr key without a curated
// name. It is unchecked (Describe sends nothing): the metric set depends on
// what the servers send, which differs by version and role.
type Passthrough struct {
	Results []ensemble.Result
	// Choices[i], when there, is what Results[i] exposes (the zero Choice:
	// every key).
	Choices []Choice
	Names   *Names
	Limits  Limits
	Logger  log.Logger
	direct  bool // for Gather: series without descriptors
	// release: each member's parsed mntr is let go (Mntr set to nil in
	// Results) once mapped, so the replies and their compact form do
	// not all coexist (Collect, which owns its copy of the results).
	release bool
	// pre, when set, holds members mapped while the scrape waited for
	// the others (Premap); collect maps the rest.
	pre *Premap
}

// Choice is what a scrape exposes of one ensemble beyond the ensemble
// metrics and the curated per-member set, which always come: every
// passthrough key (the zero Choice), the keys Keys keeps, or none.
type Choice struct {
	NoPassthrough bool
	Keys          KeyFilter // nil: every key
}

// Describe sends nothing: see Passthrough.
func (c Passthrough) Describe(chan<- *prometheus.Desc) {}

// Collect sends every member's passthrough series (see collect), built
// family by family as for Gather, each with its descriptor.
func (c Passthrough) Collect(ch chan<- prometheus.Metric) {
	p := c.collect(ch)
	for f, mf := range p.all(false) {
		desc := c.Names.desc(f.name, f.help, f.labelNames)
		for _, m := range mf.Metric {
			ch <- builtMetric{desc, m}
		}
	}
}

// collect maps every member's mntr, on as many goroutines as there are
// CPUs, into its compact form, decides each family's schema from all
// members at once (plan), admits each member's series and sends
// its drops on ch. What a member sends can only cost its own series: the
// series over its limits, or in a schema fewer members send, are dropped
// and counted on it (zookeeper_member_series_dropped). The series are
// built later, a family at a time (passStream).
func (c Passthrough) collect(ch chan<- prometheus.Metric) *passStream {
	lim := c.Limits.withDefaults()
	type job struct {
		target   int
		ensemble string
		member   *ensemble.MemberSnapshot
		keys     KeyFilter
	}
	var jobs []job
	most := 0
	for i, r := range c.Results {
		var choice Choice
		if i < len(c.Choices) {
			choice = c.Choices[i]
		}
		if choice.NoPassthrough {
			continue
		}
		for k := range r.Members {
			if s := &r.Members[k]; s.Up && s.Mntr != nil {
				jobs = append(jobs, job{i, r.Target.Name, s, choice.Keys})
				most = max(most, len(s.Mntr.Samples))
			}
		}
	}
	members := make([]passMember, len(jobs))
	// The members mapped during the polls from the very reply their
	// result holds first (each once), then the others.
	premapped := c.pre.finish()
	left := make([]int, 0, len(jobs))
	for i, j := range jobs {
		k := premapKey{j.target, j.member.Member.Address}
		if m, ok := premapped[k]; ok && m.mntr == j.member.Mntr && m.ensemble == j.ensemble {
			delete(premapped, k)
			members[i] = m.member
			if c.release {
				j.member.Mntr = nil
			}
			continue
		}
		left = append(left, i)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(left)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var comp compactor
			for n := int(next.Add(1) - 1); n < len(left); n = int(next.Add(1) - 1) {
				i := left[n]
				j := jobs[i]
				members[i] = comp.compact(j.ensemble, j.member.Member.Address, c.Names.mapMntrKeys(j.member.Mntr, lim, j.keys))
				if c.release {
					j.member.Mntr = nil
				}
			}
		}()
	}
	wg.Wait()
	// The series set is per member (its series all carry its ensemble
	// and server labels, so none can repeat another member's): a few
	// hundred entries reused, not one map of every series of the scrape
	// (at 1,000 members, 20 MB and a cache miss a series).
	e := newEmitter(ch, c.Names, min(most, 1024), 2*most)
	e.direct = c.direct
	plan(e, members, lim)
	p := &passStream{members: members, byName: make(map[string]int32, min(most, 1024))}
	d := dropLog{c.Names, c.Logger}
	seen := make(map[[2]string]bool, len(jobs))
	for i, j := range jobs {
		k := [2]string{j.ensemble, j.member.Member.Address}
		if seen[k] {
			// A member listed twice (config refuses it; defensive):
			// its series would be its first listing's, duplicates.
			members[i] = passMember{}
			continue
		}
		seen[k] = true
		clear(e.series)
		d.report(e, j.ensemble, j.member.Member.Address, passthroughDrops, p.admit(e, i, lim))
	}
	logDropped(c.Logger, e)
	p.sortFamilies()
	return p
}

// builtMetric is a passthrough series for a registry (Passthrough.Collect).
type builtMetric struct {
	desc *prometheus.Desc
	m    *dto.Metric
}

func (b builtMetric) Desc() *prometheus.Desc { return b.desc }

func (b builtMetric) Write(out *dto.Metric) error {
	out.Label, out.Gauge, out.Counter, out.Summary = b.m.Label, b.m.Gauge, b.m.Counter, b.m.Summary
	return nil
}

// dropLog reports what members' limits dropped: a series of
// zookeeper_member_series_dropped a member and reason, and a warning when
// the count changes, not every scrape.
type dropLog struct {
	names  *Names
	logger log.Logger
}

// report sends and logs one member's drops for the reasons its collector
// counts (each reason is sent by one collector only: a series is sent once).
func (d dropLog) report(e *emitter, ensembleName, server string, reasons []string, drops map[string]int) {
	for _, reason := range reasons {
		d.one(e, ensembleName, server, reason, drops[reason])
	}
}

func (d dropLog) one(e *emitter, ensembleName, server, reason string, n int) {
	k := dropKey{ensembleName, server, reason}
	if n == 0 {
		d.names.settle(k)
		return
	}
	e.fixed(seriesDroppedMetric, float64(n), ensembleName, server, reason)
	if d.names.changed(k, n) && d.logger != nil {
		level.Warn(d.logger).Log("msg", "Series of a member dropped (see zookeeper_member_series_dropped)", "ensemble", ensembleName, "server", server, "reason", reason, "count", n)
	}
}

func logDropped(logger log.Logger, e *emitter) {
	if e.dropped > 0 && logger != nil {
		level.Debug(logger).Log("msg", "Dropped series that would have made the exposition invalid", "count", e.dropped)
	}
}

// emitResult turns one ensemble snapshot into its fixed metrics.
func emitResult(e *emitter, r ensemble.Result, lim Limits, d dropLog) {
	name := r.Target.Name
	v := r.View
	for i, s := range r.Members {
		emitMember(e, name, s, v, i, lim, d)
	}
	g := func(f *fixed, val float64) { e.fixed(f, val, name) }
	m := v.Membership
	g(membersMetric, float64(v.Members))
	g(votersMetric, float64(v.Voters))
	g(observersMetric, float64(v.Observers))
	g(quorumSizeMetric, float64(v.QuorumSize))
	g(votersUpMetric, float64(v.VotersUp))
	if v.HasSynced {
		g(syncedVotersMetric, float64(v.SyncedVoters))
	}
	g(leadersMetric, float64(len(v.Leaders)))
	for _, l := range v.Leaders {
		e.fixed(leaderInfoMetric, 1, name, l)
	}
	if v.HasEpoch {
		g(epochMetric, float64(v.Epoch))
	}
	g(quorumMetric, boolFloat(v.Quorum))
	g(toleranceMetric, float64(v.FailureTolerance))
	for i, s := range r.Members {
		e.fixed(safeToStopMetric, boolFloat(v.SafeToStop[i]), name, s.Member.Address)
	}
	e.fixed(membershipInfoMetric, 1, name, m.Source, ruleName(m.Rule))
	if ver, err := strconv.ParseUint(m.Version, 16, 64); err == nil {
		g(configVersionMetric, float64(ver))
	}
	if m.FromEnsemble() {
		watchedAs := map[int]string{}
		for i, j := range v.ServerOf {
			if j >= 0 {
				watchedAs[j] = r.Members[i].Member.Address
			}
		}
		unwatched := 0
		for j, srv := range m.Servers {
			addr, watched := watchedAs[j]
			if !watched {
				// A membership of thousands (a hostile conf) must not
				// make thousands of series: the unwatched count says
				// the rest.
				if unwatched++; unwatched > lim.MaxConfigServers || len(srv.ClientAddress) > lim.MaxLabelValueLength {
					continue
				}
				addr = srv.ClientAddress
			}
			e.fixed(serverWatchedMetric, boolFloat(watched), name, strconv.FormatInt(srv.ID, 10), srv.Role, addr)
		}
		g(unwatchedVotersMetric, float64(v.UnwatchedVoters()))
		g(unwatchedObsMetric, float64(len(v.Unwatched)-v.UnwatchedVoters()))
	}
	if r.Unaddressable >= 0 {
		g(unaddressableMetric, float64(r.Unaddressable))
	}
	if v.HasConfig {
		g(configConsistentMetric, boolFloat(v.ConfigConsistent))
	}
	if anyTrue(v.HasLag) {
		g(maxLagMetric, v.MaxZxidLag)
	}
	g(ensemblePollMetric, r.Duration.Seconds())
	if r.Target.Vantage != "" && len(r.Target.Vantage) <= lim.MaxLabelValueLength {
		e.fixed(vantageInfoMetric, 1, name, r.Target.Vantage)
	}
	if r.Target.Probe != nil {
		for _, s := range r.Members {
			emitProbe(e, name, s)
		}
		e.fixed(probeConnsMetric, float64(r.ProbeConnections), name)
	}
	if c := r.Canary; c != nil {
		g(canarySuccessMetric, boolFloat(c.Success))
		if c.HasOp {
			g(canaryWriteMetric, c.Op.Seconds())
		}
		if !c.Success {
			e.fixed(canaryReasonMetric, 1, name, c.Reason)
		}
	}
}

// emitProbe sends one member's client probe series.
func emitProbe(e *emitter, ensembleName string, s ensemble.MemberSnapshot) {
	p := s.Probe
	if p == nil {
		return
	}
	server := s.Member.Address
	e.fixed(probeSuccessMetric, boolFloat(p.Success), ensembleName, server)
	if p.HasSession {
		e.fixed(probeSessionMetric, p.Session.Seconds(), ensembleName, server)
	}
	if p.HasOp {
		e.fixed(probeReadMetric, p.Op.Seconds(), ensembleName, server)
	}
	if !p.Success {
		e.fixed(probeReasonMetric, 1, ensembleName, server, p.Reason)
	}
	e.fixed(probeAgeMetric, max(0, time.Since(p.At).Seconds()), ensembleName, server)
}

func ruleName(r ensemble.Rule) string {
	if r.IsHierarchical() {
		return "hierarchical"
	}
	return "majority"
}

func emitMember(e *emitter, ensembleName string, s ensemble.MemberSnapshot, v ensemble.View, idx int, lim Limits, d dropLog) {
	server := s.Member.Address
	g := func(f *fixed, val float64) { e.fixed(f, val, ensembleName, server) }
	g(upMetric, boolFloat(s.Up))
	g(servingMetric, boolFloat(s.Serving))
	for _, st := range ensemble.States {
		e.fixed(stateMetric, boolFloat(s.State == st), ensembleName, server, st)
	}
	g(pollDurationMetric, s.Duration.Seconds())
	for _, cmd := range allowedCommands {
		if allowed, ok := s.Allowed[cmd]; ok {
			e.fixed(allowedMetric, boolFloat(allowed), ensembleName, server, cmd)
		}
	}
	if v.InMembership[idx] >= 0 {
		g(inMembershipMetric, float64(v.InMembership[idx]))
	}
	if v.RoleKnown[idx] {
		g(roleMismatchMetric, boolFloat(v.RoleMismatch[idx]))
	}
	if !s.Up {
		e.fixed(downReasonMetric, 1, ensembleName, server, ensemble.DownReason(s.Err))
		d.one(e, ensembleName, server, dropConfigServers, 0)
		return
	}
	g(malformedMetric, float64(s.Malformed))

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
		e.fixed(serverInfoMetric, 1, ensembleName, server, version, serverID, peerType)
	}

	if s.Srvr != nil && s.Srvr.HasZxid {
		g(zxidEpochMetric, float64(s.Srvr.ZxidEpoch()))
		g(zxidSequenceMetric, float64(s.Srvr.ZxidCounter()))
	}
	if v.HasLag[idx] {
		g(zxidLagMetric, v.ZxidLag[idx])
	}
	confDropped := 0
	if s.Conf != nil && s.Conf.HasMembership {
		g(votersConfigured, float64(s.Conf.Voters()))
		if !s.ConfFromAdmin { // the AdminServer's voting_view has no observers
			g(observersConfigured, float64(s.Conf.Observers()))
		}
		if ver, err := strconv.ParseUint(s.Conf.ConfigVersion, 16, 64); err == nil {
			g(memberConfigVersion, float64(ver))
		}
		dropped := 0
		for i, line := range s.Conf.Servers {
			// One series a server line: a conf of thousands of lines must
			// not make thousands.
			if i >= lim.MaxConfigServers || len(line.Addresses) > lim.MaxLabelValueLength {
				dropped++
				continue
			}
			e.fixed(configServerInfo, 1, ensembleName, server, strconv.FormatInt(line.ID, 10), line.Role, line.Addresses)
		}
		confDropped = dropped
	}
	d.one(e, ensembleName, server, dropConfigServers, confDropped)

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
		e.fixed(curatedMetrics[c.name], val, ensembleName, server)
	}
}

// allowedCommands are the words whose whitelist status is reported.
var allowedCommands = append(ensemble.Commands[:len(ensemble.Commands):len(ensemble.Commands)], "ruok")

func anyTrue(bs []bool) bool {
	for _, b := range bs {
		if b {
			return true
		}
	}
	return false
}

// Registry returns a registry holding both collectors for the results of
// one scrape: what an HTTP handler gathers.
func Registry(results []ensemble.Result, names *Names, limits Limits, logger log.Logger) *prometheus.Registry {
	return RegistryChoosing(results, nil, names, limits, logger)
}

// RegistryChoosing is Registry with a Choice for each result (choices[i]
// for results[i]; missing ones: the whole passthrough).
func RegistryChoosing(results []ensemble.Result, choices []Choice, names *Names, limits Limits, logger log.Logger) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(Ensembles{Results: results, Limits: limits, Names: names, Logger: logger},
		Passthrough{Results: results, Choices: choices, Names: names, Limits: limits, Logger: logger})
	return reg
}

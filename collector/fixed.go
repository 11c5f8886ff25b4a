package collector

import (
	"github.com/prometheus/client_golang/prometheus"
)

// fixed is a metric whose name, help and labels never depend on what a
// server says: its descriptor is built once, here, and Describe lists it.
type fixed struct {
	name, help string // name with zookeeper_
	kind       valueKind
	labels     []string
	desc       *prometheus.Desc
}

var (
	memberLabels        = []string{"ensemble", "server"}
	ensembleLabels      = []string{"ensemble"}
	stateLabels         = []string{"ensemble", "server", "state"}
	commandLabels       = []string{"ensemble", "server", "command"}
	reasonLabels        = []string{"ensemble", "server", "reason"}
	infoLabels          = []string{"ensemble", "server", "version", "server_id", "peer_type"}
	configServerLabels  = []string{"ensemble", "server", "sid", "role", "address"}
	membershipLabels    = []string{"ensemble", "source", "rule"}
	serverWatchedLabels = []string{"ensemble", "sid", "role", "server"}
	ensembleReason      = []string{"ensemble", "reason"}
	vantageLabels       = []string{"ensemble", "vantage"}
)

// fixedMetrics is every fixed metric, in the order Describe lists them.
var fixedMetrics []*fixed

func newFixed(kind valueKind, name, help string, labels []string) *fixed {
	full := namespace + "_" + name
	f := &fixed{name: full, help: help, kind: kind, labels: labels, desc: prometheus.NewDesc(full, help, labels, nil)}
	fixedMetrics = append(fixedMetrics, f)
	return f
}

func gauge(name, help string, labels []string) *fixed { return newFixed(kindGauge, name, help, labels) }

// Per member.
var (
	upMetric            = gauge("up", "1 when the member answered a four-letter word within its deadline.", memberLabels)
	servingMetric       = gauge("serving", "1 when the member serves clients; 0 when not serving requests or unreachable.", memberLabels)
	stateMetric         = gauge("server_state", "The member's state; exactly one state is 1.", stateLabels)
	pollDurationMetric  = gauge("member_poll_duration_seconds", "Time this member's poll took in this scrape.", memberLabels)
	allowedMetric       = gauge("four_letter_word_allowed", "0 when the member refuses the four-letter word (4lw.commands.whitelist), 1 when it answers it.", commandLabels)
	inMembershipMetric  = gauge("member_in_membership", "1 when the ensemble's membership names this member, 0 when it does not (a stale entry in the exporter's configuration, or a member of another ensemble).", memberLabels)
	roleMismatchMetric  = gauge("member_role_mismatch", "1 when the configured role (:observer or not) contradicts the role the ensemble gives the member; the exporter follows the ensemble.", memberLabels)
	downReasonMetric    = gauge("member_down_reason", "1 for why the member gave nothing usable: refused, timeout (hung), reset, tls, resolve, empty, garbage, no_slot (--zookeeper.max-concurrency) or other.", reasonLabels)
	malformedMetric     = gauge("member_malformed_lines", "Lines of this member's replies skipped as malformed in this scrape.", memberLabels)
	serverInfoMetric    = gauge("server_info", "Constant 1: the member's version (mntr/srvr) and server id and peer type (conf).", infoLabels)
	zxidEpochMetric     = gauge("zxid_epoch", "High 32 bits of the member's last zxid (srvr Zxid): the epoch of the leader it follows.", memberLabels)
	zxidSequenceMetric  = gauge("zxid_sequence", "Low 32 bits of the member's last zxid (srvr Zxid): the transaction's sequence number within the epoch (not named zxid_counter: promtool rejects \"counter\" in a gauge's name).", memberLabels)
	zxidLagMetric       = gauge("zxid_lag", "Transactions this member is behind the leader: the leader's zxid counter minus this member's in the leader's epoch; for a member still in an earlier epoch (no write since the election), the leader's counter, a lower bound.", memberLabels)
	votersConfigured    = gauge("member_voters_configured", "Voters in this member's own configuration (conf membership).", memberLabels)
	observersConfigured = gauge("member_observers_configured", "Observers in this member's own configuration (conf membership).", memberLabels)
	memberConfigVersion = gauge("member_config_version", "The configuration version this member reports (conf version=, hex in ZooKeeper).", memberLabels)
	seriesDroppedMetric = gauge("member_series_dropped", "Series of this member dropped in this scrape, by reason: series_limit, label_values_limit, name_length, label_value_length, config_servers_limit (the exporter's limits), reserved_name (a name or label Prometheus reserves), conflict (a family other members send differently).", reasonLabels)
	configServerInfo    = gauge("member_config_server_info", "Constant 1 for each server line in this member's own configuration: who believes what.", configServerLabels)
)

// The client probe (--zookeeper.client-probe): what a client of the
// member feels. Absent without the probe.
var (
	probeSuccessMetric  = gauge("client_probe_success", "1 when the last client probe opened a session against this member alone and read the probe's znode within the member's deadline.", memberLabels)
	probeSessionMetric  = gauge("client_probe_session_seconds", "Time the last client probe took to establish its session with this member (absent when none was established).", memberLabels)
	probeReadMetric     = gauge("client_probe_read_seconds", "Time the last client probe's read of its znode took on this member (absent when the read did not complete).", memberLabels)
	probeReasonMetric   = gauge("client_probe_failure_reason", "1 for why the last client probe of this member failed: refused, timeout, connection_loss, session_expired, auth_failed, not_serving or other (absent on success).", reasonLabels)
	probeAgeMetric      = gauge("client_probe_age_seconds", "Age of the reported client probe result: probes are rate limited to one per member per --zookeeper.client-probe.interval.", memberLabels)
	probeConnsMetric    = newFixed(kindCounter, "client_probe_connections_total", "TCP connections the client probes and canary writes of this ensemble opened since the exporter started (ZooKeeper's maxClientCnxns counts them per client host).", ensembleLabels)
	canarySuccessMetric = gauge("canary_write_success", "1 when the last canary write (set of the canary znode, through any member) committed within the deadline.", ensembleLabels)
	canaryWriteMetric   = gauge("canary_write_seconds", "Time the last canary write took, from request to commit (absent when it did not complete).", ensembleLabels)
	canaryReasonMetric  = gauge("canary_write_failure_reason", "1 for why the last canary write failed (the client probe's reasons; absent on success).", ensembleReason)
	vantageInfoMetric   = gauge("ensemble_vantage_info", "Constant 1: where this exporter watches the ensemble from (--exporter.vantage or the ensemble's vantage); join on instance to compare the views of several exporters.", vantageLabels)
)

// Per ensemble.
var (
	membersMetric          = gauge("ensemble_members", "Members polled in this ensemble.", ensembleLabels)
	votersMetric           = gauge("ensemble_voters", "Voting members in the ensemble's own membership (its conf, AdminServer or /zookeeper/config; the configured list when none tells).", ensembleLabels)
	observersMetric        = gauge("ensemble_observers", "Observers in the ensemble's own membership (the configured list when none tells).", ensembleLabels)
	quorumSizeMetric       = gauge("ensemble_quorum_size", "The fewest voters that can form a quorum under the ensemble's rule: floor(voters / 2) + 1 for a majority; for hierarchical quorums, a majority of the weight in a majority of the groups.", ensembleLabels)
	votersUpMetric         = gauge("ensemble_voters_up", "Watched voters that answered and serve as leader, follower or standalone.", ensembleLabels)
	syncedVotersMetric     = gauge("ensemble_synced_voters", "Voters in sync as the leader counts them: its zk_synced_followers + 1.", ensembleLabels)
	leadersMetric          = gauge("ensemble_leaders", "Members reporting leader: 1 is healthy, 0 no leader, more than 1 a split view.", ensembleLabels)
	leaderInfoMetric       = gauge("ensemble_leader_info", "1 for the member that reports leader.", memberLabels)
	epochMetric            = gauge("ensemble_epoch", "The leader's zxid epoch; it rises at every election.", ensembleLabels)
	quorumMetric           = gauge("ensemble_quorum", "1 when the ensemble has quorum, on evidence: a serving leader with enough synced voters, or a serving follower or observer (learners stop serving without a leader). 0 when the members reached answer and none serves, or none answers.", ensembleLabels)
	toleranceMetric        = gauge("ensemble_failure_tolerance", "How many more voter failures the ensemble survives for sure, under its own quorum rule: the fewest further failures that can break quorum, minus one. A voter the exporter cannot see, or the leader does not count as synced, counts as down. Negative: short of quorum by that many voters.", ensembleLabels)
	safeToStopMetric       = gauge("ensemble_member_safe_to_stop", "1 when stopping this member now still leaves a quorum under the ensemble's rule with the voters known up (observers: when quorum holds); 0 also with more than one leader.", memberLabels)
	membershipInfoMetric   = gauge("ensemble_membership_info", "Constant 1: where the membership came from (conf, adminserver, znode, or configured when no member told it) and the quorum rule (majority or hierarchical).", membershipLabels)
	configVersionMetric    = gauge("ensemble_config_version", "The version of the membership the ensemble commits to (the newest the members report; hex in ZooKeeper).", ensembleLabels)
	serverWatchedMetric    = gauge("ensemble_server_watched", "For each server of the ensemble's membership: 1 when the exporter polls it, 0 when not (its view is partial: that server counts as down in the safety answers). server is where it is polled, or its client address when the server line tells it.", serverWatchedLabels)
	unwatchedVotersMetric  = gauge("ensemble_unwatched_voters", "Voters of the ensemble's membership the exporter does not poll.", ensembleLabels)
	unwatchedObsMetric     = gauge("ensemble_unwatched_observers", "Observers of the ensemble's membership the exporter does not poll.", ensembleLabels)
	unaddressableMetric    = gauge("ensemble_discovery_unaddressable_servers", "Servers of the membership whose client address discovery cannot tell (plain server lines, members sharing a host): counted in the arithmetic, not polled.", ensembleLabels)
	configConsistentMetric = gauge("ensemble_config_consistent", "1 when every member that answers conf reports the same membership (server lines, groups, weights and version).", ensembleLabels)
	maxLagMetric           = gauge("ensemble_max_zxid_lag", "The largest zxid lag of a member behind the leader, in transactions.", ensembleLabels)
	ensemblePollMetric     = gauge("ensemble_poll_duration_seconds", "Wall time of the poll of every member of the ensemble.", ensembleLabels)
)

// curatedMetrics holds the descriptor of each curated name (two mntr keys
// may share one: zk_learners and zk_followers before 3.6); fixedNames are
// the names (without zookeeper_) of every fixed metric: a passthrough mntr
// key that would take one is prefixed "mntr_". Both are made once, in init,
// after every descriptor above, and only read after.
var (
	curatedMetrics = map[string]*fixed{}
	fixedNames     = map[string]bool{}
)

func init() {
	for _, c := range curatedMntr {
		if _, ok := curatedMetrics[c.name]; !ok {
			curatedMetrics[c.name] = newFixed(c.kind, c.name, c.help, memberLabels)
		}
	}
	for _, f := range fixedMetrics {
		fixedNames[f.name[len(namespace)+1:]] = true
	}
	// Words that are not metrics but would read as the exporter's own.
	fixedNames["malformed_lines"] = true
}

package collector

import (
	"math"
	"sort"
	"strings"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

type valueKind int

const (
	kindGauge valueKind = iota
	kindCounter
	kindSummary
)

// curated is a mntr key (or srvr line) with a name of its own. Help says
// where the value comes from; srvr stands in when mntr is refused.
type curated struct {
	key  string // mntr key without zk_
	name string // metric name without zookeeper_
	help string
	kind valueKind
	ms   bool // ZooKeeper's milliseconds, exposed in seconds
	// srvr reads the same value from a srvr reply, when srvr has it.
	srvr func(*fourletter.Srvr) (float64, bool)
}

// curatedMntr is the table of mntr keys with curated names (SPEC §5).
var curatedMntr = []curated{
	{key: "outstanding_requests", name: "outstanding_requests", help: "Requests queued on the member (mntr zk_outstanding_requests, srvr Outstanding).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.Outstanding, s.HasOutstanding }},
	{key: "num_alive_connections", name: "alive_connections", help: "Client connections open on the member, the exporter's own included (mntr zk_num_alive_connections, srvr Connections).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.Connections, s.HasConnections }},
	{key: "znode_count", name: "znodes", help: "Znodes in the member's data tree (mntr zk_znode_count, srvr Node count).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.NodeCount, s.HasNodeCount }},
	{key: "watch_count", name: "watches", help: "Watches set on the member (mntr zk_watch_count)."},
	{key: "ephemerals_count", name: "ephemerals", help: "Ephemeral znodes (mntr zk_ephemerals_count)."},
	{key: "approximate_data_size", name: "approximate_data_size_bytes", help: "Approximate size of the data tree in bytes (mntr zk_approximate_data_size)."},
	{key: "open_file_descriptor_count", name: "open_file_descriptors", help: "File descriptors the member's JVM has open (mntr zk_open_file_descriptor_count)."},
	{key: "max_file_descriptor_count", name: "max_file_descriptors", help: "File descriptor limit of the member's JVM (mntr zk_max_file_descriptor_count)."},
	{key: "packets_received", name: "packets_received_total", kind: kindCounter, help: "Packets received since start or the last srst (mntr zk_packets_received, srvr Received).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.Received, s.HasReceived }},
	{key: "packets_sent", name: "packets_sent_total", kind: kindCounter, help: "Packets sent since start or the last srst (mntr zk_packets_sent, srvr Sent).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.Sent, s.HasSent }},
	{key: "min_latency", name: "latency_min_seconds", ms: true, help: "Smallest request latency since start or the last srst (mntr zk_min_latency, srvr Latency min, ms converted to seconds).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.LatencyMin, s.HasLatency }},
	{key: "avg_latency", name: "latency_avg_seconds", ms: true, help: "Average request latency since start or the last srst (mntr zk_avg_latency, srvr Latency avg, ms converted to seconds).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.LatencyAvg, s.HasLatency }},
	{key: "max_latency", name: "latency_max_seconds", ms: true, help: "Largest request latency since start or the last srst (mntr zk_max_latency, srvr Latency max, ms converted to seconds).",
		srvr: func(s *fourletter.Srvr) (float64, bool) { return s.LatencyMax, s.HasLatency }},
	{key: "uptime", name: "uptime_seconds", ms: true, help: "Time since the member's server started (mntr zk_uptime, 3.6+)."},
	{key: "leader_uptime", name: "leader_uptime_seconds", ms: true, help: "Time since this member became leader (mntr zk_leader_uptime, leader only, 3.6+)."},
	{key: "learners", name: "learners", help: "Followers and observers connected to this leader (mntr zk_learners; zk_followers before 3.6)."},
	{key: "followers", name: "learners", help: "Followers and observers connected to this leader (mntr zk_learners; zk_followers before 3.6)."},
	{key: "synced_followers", name: "synced_followers", help: "Voting followers in sync with this leader (mntr zk_synced_followers, leader only)."},
	{key: "synced_non_voting_followers", name: "synced_non_voting_followers", help: "Non-voting followers in sync with this leader (mntr zk_synced_non_voting_followers, leader only)."},
	{key: "synced_observers", name: "synced_observers", help: "Observers in sync with this leader (mntr zk_synced_observers, leader only)."},
	{key: "pending_syncs", name: "pending_syncs", help: "Learners waiting to sync with this leader (mntr zk_pending_syncs, leader only)."},
	{key: "quorum_size", name: "voting_members", help: "Voting members in this member's configuration (mntr zk_quorum_size, which counts voters, not the majority)."},
}

var curatedByKey = func() map[string]*curated {
	m := make(map[string]*curated, len(curatedMntr))
	for i := range curatedMntr {
		m[curatedMntr[i].key] = &curatedMntr[i]
	}
	return m
}()

// reservedNames are metric names (without zookeeper_) the exporter derives
// itself; a passthrough mntr key that would take one is prefixed "mntr_".
var reservedNames = func() map[string]bool {
	r := map[string]bool{}
	for _, c := range curatedMntr {
		r[c.name] = true
	}
	for _, n := range []string{"up", "serving", "server_state", "server_info", "zxid_epoch", "zxid_sequence", "zxid_lag",
		"four_letter_word_allowed", "malformed_lines"} {
		r[n] = true
	}
	return r
}()

// counterKeys are the mntr keys that only go up (until a restart or srst),
// from ZooKeeper's ServerMetrics; they become counters named *_total.
var counterKeys = toSet(`add_dead_watcher_stall_time bytes_received_count cnxn_closed_without_zk_server_running commit_count
connection_drop_count connection_rejected connection_request_count connection_revalidate_count dead_watchers_cleared
dead_watchers_queued diff_count digest_mismatches_count ensemble_auth_fail ensemble_auth_skip ensemble_auth_success
insecure_admin_count large_requests_rejected learner_commit_received_count learner_proposal_received_count looking_count
outstanding_changes_queued outstanding_changes_removed prep_processor_request_queued proposal_count
quit_leading_due_to_disloyal_voter request_commit_queued request_throttle_wait_count requests_not_forwarded_to_commit_processor
response_bytes response_packet_cache_hits response_packet_cache_misses response_packet_get_children_cache_hits
response_packet_get_children_cache_misses revalidate_count sessionless_connections_expired
skip_learner_request_to_next_processor_count snap_count stale_replies stale_requests stale_requests_dropped
stale_sessions_expired sync_processor_request_queued throttled_ops tls_handshake_exceeded unrecoverable_error_count
unsuccessful_handshake watch_bytes auth_failed_count fsync_threshold_exceed_count restore_error_count
restore_rate_limited_count snapshot_error_count snapshot_rate_limited_count`)

// renamedGauges are plain gauges whose ZooKeeper name ends in _count, a
// suffix Prometheus reserves for summaries and histograms.
var renamedGauges = map[string]string{
	"non_mtls_local_conn_count":  "non_mtls_local_connections",
	"non_mtls_remote_conn_count": "non_mtls_remote_connections",
}

// keyedSuffixes are summary sets with a key inside the name
// (zk_p50_<sid>_learner_handler_qp_time_ms, zk_avg_<ns>_read_per_namespace);
// the key becomes the label "key", as ZooKeeper's Prometheus provider
// labels it.
var keyedSuffixes = []string{"learner_handler_qp_size", "learner_handler_qp_time_ms", "ack_latency", "read_per_namespace", "write_per_namespace"}

var summaryStats = []string{"avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999"}

var quantileOf = map[string]float64{"p50": 0.5, "p95": 0.95, "p99": 0.99, "p999": 0.999}

// mntrMetric is one metric made from mntr samples: a gauge, a counter or a
// summary (with its min and max as gauges beside it).
type mntrMetric struct {
	name        string // without zookeeper_
	help        string
	kind        valueKind
	labelNames  []string
	labelValues []string
	value       float64
	count       uint64
	sum         float64
	quantiles   map[float64]float64
}

type summaryGroup struct {
	stem, key        string
	labels           []fourletter.Label
	stats            map[string]float64
	providerQuantile map[float64]float64
}

// mapMntr turns every sample that has no curated name into passthrough
// gauges, counters and summaries. It is pure: the same reply gives the same
// metrics, in the same order.
func mapMntr(m *fourletter.Mntr) []mntrMetric {
	groups := map[string]*summaryGroup{}
	var order []string
	group := func(id, stem, key string, labels []fourletter.Label) *summaryGroup {
		g, ok := groups[id]
		if !ok {
			g = &summaryGroup{stem: stem, key: key, labels: labels, stats: map[string]float64{}}
			groups[id] = g
			order = append(order, id)
		}
		return g
	}

	// Pass 1: which samples belong to summaries. Default provider: a stem
	// with both cnt_ and sum_ (zk_max_file_descriptor_count has neither).
	// Prometheus provider: name{quantile=...} with name_count and name_sum.
	hasStat := map[string]bool{}
	quantiled := map[string]bool{}
	for _, s := range m.Samples {
		if len(s.Labels) == 0 {
			if stat, stem, ok := cutStat(s.Key); ok {
				hasStat[stat+"_"+stem] = true
			}
		} else if labelValue(s.Labels, "quantile") != "" {
			quantiled[s.Key] = true
		}
	}
	isDefaultSummary := func(stem string) bool { return hasStat["cnt_"+stem] && hasStat["sum_"+stem] }

	var out []mntrMetric
	var plain []fourletter.Sample
	for _, s := range m.Samples {
		if len(s.Labels) == 0 {
			if stat, stem, ok := cutStat(s.Key); ok && isDefaultSummary(stem) {
				name, key := splitKeyed(stem)
				g := group("d\x00"+stem, name, key, nil)
				g.stats[stat] = s.Value
				continue
			}
		}
		if base, suffix, ok := cutProviderSuffix(s.Key); ok && quantiled[base] {
			g := group("p\x00"+base+labelID(s.Labels), base, "", s.Labels)
			g.stats[suffix] = s.Value
			continue
		}
		if q := labelValue(s.Labels, "quantile"); q != "" {
			rest := withoutLabel(s.Labels, "quantile")
			g := group("p\x00"+s.Key+labelID(rest), s.Key, "", rest)
			if qv, err := parseQuantile(q); err == nil {
				if g.providerQuantile == nil {
					g.providerQuantile = map[float64]float64{}
				}
				g.providerQuantile[qv] = s.Value
			}
			continue
		}
		plain = append(plain, s)
	}

	for _, s := range plain {
		if len(s.Labels) == 0 {
			if _, ok := curatedByKey[s.Key]; ok {
				continue
			}
		}
		out = append(out, passthrough(s))
	}
	for _, id := range order {
		out = append(out, summaryMetrics(groups[id])...)
	}
	return out
}

// passthrough names a plain sample: counters get _total (and lose a _count
// that would read as a summary's), milliseconds become seconds.
func passthrough(s fourletter.Sample) mntrMetric {
	key := s.Key
	mm := mntrMetric{value: s.Value, help: "ZooKeeper mntr zk_" + key + "."}
	name := key
	switch {
	case counterKeys[key] || strings.HasSuffix(key, "_count"):
		mm.kind = kindCounter
		name = strings.TrimSuffix(name, "_count")
	case renamedGauges[key] != "":
		name = renamedGauges[key]
	}
	if base, ok := millis(name); ok {
		name, mm.value = base+"_seconds", mm.value/1000
		mm.help = "ZooKeeper mntr zk_" + key + " (ms converted to seconds)."
	}
	if mm.kind == kindCounter {
		name += "_total"
	}
	mm.name = unreserve(name)
	for _, l := range s.Labels {
		mm.labelNames = append(mm.labelNames, l.Name)
		mm.labelValues = append(mm.labelValues, l.Value)
	}
	return mm
}

func summaryMetrics(g *summaryGroup) []mntrMetric {
	name, divisor, help := g.stem, 1.0, "ZooKeeper mntr zk_{avg,min,max,cnt,sum,p50,p95,p99,p999}_"
	if g.key != "" {
		help += "<key>_"
	}
	help += g.stem
	if base, ok := millis(name); ok {
		name, divisor = base+"_seconds", 1000
		help += " (ms converted to seconds)"
	}
	name = unreserve(name)
	var labelNames, labelValues []string
	if g.key != "" {
		labelNames, labelValues = []string{"key"}, []string{g.key}
	}
	for _, l := range g.labels {
		labelNames = append(labelNames, l.Name)
		labelValues = append(labelValues, l.Value)
	}
	sum := mntrMetric{name: name, help: help + ".", kind: kindSummary, labelNames: labelNames, labelValues: labelValues,
		quantiles: map[float64]float64{}}
	if cnt, ok := g.stats["cnt"]; ok {
		sum.count, sum.sum = toCount(cnt), g.stats["sum"]/divisor
	} else {
		sum.count, sum.sum = toCount(g.stats["count"]), g.stats["sum"]/divisor
	}
	for stat, q := range quantileOf {
		if v, ok := g.stats[stat]; ok {
			sum.quantiles[q] = v / divisor
		}
	}
	for q, v := range g.providerQuantile {
		sum.quantiles[q] = v / divisor
	}
	out := []mntrMetric{sum}
	for _, stat := range []string{"min", "max"} {
		if v, ok := g.stats[stat]; ok {
			out = append(out, mntrMetric{name: name + "_" + stat, kind: kindGauge, value: v / divisor,
				help:       "ZooKeeper mntr zk_" + stat + "_" + keyPlaceholder(g.key) + g.stem + ": the " + stat + "imum since start or the last srst.",
				labelNames: labelNames, labelValues: labelValues})
		}
	}
	return out
}

func keyPlaceholder(key string) string {
	if key == "" {
		return ""
	}
	return "<key>_"
}

// cutStat splits "p99_readlatency" into "p99" and "readlatency".
func cutStat(key string) (stat, stem string, ok bool) {
	for _, st := range summaryStats {
		if rest, found := strings.CutPrefix(key, st+"_"); found && rest != "" {
			return st, rest, true
		}
	}
	return "", "", false
}

// cutProviderSuffix splits "readlatency_count" into "readlatency", "count".
func cutProviderSuffix(key string) (string, string, bool) {
	for _, suffix := range []string{"count", "sum"} {
		if base, found := strings.CutSuffix(key, "_"+suffix); found && base != "" {
			return base, suffix, true
		}
	}
	return "", "", false
}

// splitKeyed splits "3_learner_handler_qp_size" into the name
// "learner_handler_qp_size" and the key "3"; the key may hold "_".
func splitKeyed(stem string) (name, key string) {
	for _, suffix := range keyedSuffixes {
		if k, found := strings.CutSuffix(stem, "_"+suffix); found && k != "" {
			return suffix, k
		}
	}
	return stem, ""
}

// millis reports whether a ZooKeeper name is in milliseconds, by
// ZooKeeper's naming: *_ms, *latency, *time.
func millis(name string) (string, bool) {
	if base, ok := strings.CutSuffix(name, "_ms"); ok {
		return base, true
	}
	if strings.HasSuffix(name, "latency") || strings.HasSuffix(name, "time") {
		return name, true
	}
	return name, false
}

func unreserve(name string) string {
	if reservedNames[name] || strings.HasPrefix(name, "exporter_") || strings.HasPrefix(name, "ensemble_") || strings.HasPrefix(name, "member_") {
		return "mntr_" + name
	}
	return name
}

func toCount(v float64) uint64 {
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return uint64(v)
}

func labelValue(labels []fourletter.Label, name string) string {
	for _, l := range labels {
		if l.Name == name {
			return l.Value
		}
	}
	return ""
}

func withoutLabel(labels []fourletter.Label, name string) []fourletter.Label {
	var out []fourletter.Label
	for _, l := range labels {
		if l.Name != name {
			out = append(out, l)
		}
	}
	return out
}

func labelID(labels []fourletter.Label) string {
	parts := make([]string, 0, len(labels))
	for _, l := range labels {
		parts = append(parts, l.Name+"="+l.Value)
	}
	sort.Strings(parts)
	return "\x00" + strings.Join(parts, "\x00")
}

func parseQuantile(s string) (float64, error) {
	return parseFloat(s)
}

func toSet(words string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(words) {
		set[w] = true
	}
	return set
}

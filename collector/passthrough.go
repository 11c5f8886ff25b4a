package collector

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
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

// unkeyedStems end like a keyed set but are summaries of their own:
// ServerMetrics' QUORUM_ACK_LATENCY is getSummary("quorum_ack_latency"),
// not key "quorum" of the ACK_LATENCY set (which is keyed by server id).
var unkeyedStems = toSet(`quorum_ack_latency`)

// millisKeys are in milliseconds although their names end in neither _ms,
// latency nor time: CommitProcessor feeds WRITE_BATCH_TIME_IN_COMMIT_PROCESSOR
// with Time.currentElapsedTime() differences (checked over every summary of
// ZooKeeper 3.9's ServerMetrics).
var millisKeys = toSet(`write_batch_time_in_commit_processor`)

var summaryStats = [9]string{"avg", "min", "max", "cnt", "sum", "p50", "p95", "p99", "p999"}

var quantileIndex = map[int]float64{statIndex("p50"): 0.5, statIndex("p95"): 0.95, statIndex("p99"): 0.99, statIndex("p999"): 0.999}

// mntrMetric is one metric made from mntr samples: a gauge, a counter or a
// summary (with its min and max as gauges beside it).
type mntrMetric struct {
	// drop, when set, is why this sample is not sent (a reason of
	// zookeeper_member_series_dropped); the rest may be empty.
	drop string
	// known: what ZooKeeper itself sends (knownKeys, knownStems), as it
	// sends it; it wins a family's shape over what no ZooKeeper sends.
	known   bool
	name    string // without zookeeper_
	help    string
	kind    valueKind
	labels  *mntrLabels // nil: none beyond ensemble and server
	value   float64
	summary *summaryValue
}

// mntrLabels are a metric's own labels: pointers keep mntrMetric small,
// as a scrape of a thousand members holds a quarter of a million of them.
type mntrLabels struct{ names, values []string }

type summaryValue struct {
	count     uint64
	sum       float64
	quantiles []quantile // sorted by quantile
}

func (m *mntrMetric) labelNames() []string {
	if m.labels == nil {
		return nil
	}
	return m.labels.names
}

func (m *mntrMetric) labelValues() []string {
	if m.labels == nil {
		return nil
	}
	return m.labels.values
}

// statIndex: the summary statistics of the default metrics provider
// (summaryStats), then the Prometheus provider's _count and _sum.
const (
	statCount = 9 + iota // len(summaryStats)
	statSum
	numStats
)

type summaryGroup struct {
	stem, key        string
	labels           []fourletter.Label
	vals             [numStats]float64
	have             uint16 // bit i: vals[i] was sent
	providerQuantile map[float64]float64
}

func (g *summaryGroup) set(i int, v float64) { g.vals[i], g.have = v, g.have|1<<i }

func (g *summaryGroup) get(i int) (float64, bool) { return g.vals[i], g.have&(1<<i) != 0 }

func (g *summaryGroup) has(i int) bool { return g.have&(1<<i) != 0 }

var (
	statCnt, statSumDefault, statMax = statIndex("cnt"), statIndex("sum"), statIndex("max")
	cntBit                           = uint16(1) << statCnt
	sumBit                           = uint16(1) << statSumDefault
)

func statIndex(stat string) int {
	for i, s := range summaryStats {
		if s == stat {
			return i
		}
	}
	return -1
}

// mapMntr turns every sample that has no curated name into passthrough
// gauges, counters and summaries. It is pure: the same reply gives the same
// metrics, in the same order. It runs for every member on every scrape, so
// it keys its maps by substrings of the reply and caches the names it
// derives from a key.
func (n *Names) mapMntr(m *fourletter.Mntr, lim Limits) []mntrMetric {
	return n.mapMntrKeys(m, lim, nil)
}

// KeyFilter selects the passthrough keys a scrape exposes
// (config.KeyFilter): a summary's keys zk_{avg,...}_X are one key, X.
type KeyFilter interface{ Keep(key string) bool }

// mapMntrKeys is mapMntr for the keys keys keeps (nil: all). What it
// leaves out is the user's choice, not a drop: it is not counted.
func (n *Names) mapMntrKeys(m *fourletter.Mntr, lim Limits, keys KeyFilter) []mntrMetric {
	keep := func(string) bool { return true }
	if keys != nil {
		keep = keys.Keep
	}
	// Pass 1: which samples belong to summaries. Default provider: a stem
	// with both cnt_ and sum_ (zk_max_file_descriptor_count has neither).
	// Prometheus provider: name{quantile=...} with name_count and name_sum.
	// Each stem gets an index, and each sample of a stem its stem's index
	// and its statistic (stat: -1 for none), so that the second pass and
	// the grouping look nothing up again.
	stemIndex := make(map[string]int32, len(m.Samples)/8)
	var stems []string
	var stemStats []uint16
	stat := make([]int32, len(m.Samples)) // stem index<<4 | statistic
	var quantiled map[string]bool
	for k, s := range m.Samples {
		stat[k] = -1
		if len(s.Labels) == 0 {
			if i, stem, ok := cutStat(s.Key); ok {
				x, seen := stemIndex[stem]
				if !seen {
					x = int32(len(stems))
					stemIndex[stem] = x
					stems, stemStats = append(stems, stem), append(stemStats, 0)
				}
				stemStats[x] |= 1 << i
				stat[k] = x<<4 | int32(i)
			}
		} else if labelValue(s.Labels, "quantile") != "" {
			if quantiled == nil {
				quantiled = map[string]bool{}
			}
			quantiled[s.Key] = true
		}
	}

	// The default provider's groups by stem index, the Prometheus
	// provider's by name and labels; order is the order they began in.
	stemGroups := make([]*summaryGroup, len(stems))
	var groups map[string]*summaryGroup
	var order []*summaryGroup
	stemGroup := func(x int32) *summaryGroup {
		g := stemGroups[x]
		if g == nil {
			g = &summaryGroup{}
			g.stem, g.key = splitKeyed(stems[x])
			stemGroups[x] = g
			order = append(order, g)
		}
		return g
	}
	group := func(id, stem string, labels []fourletter.Label) *summaryGroup {
		g, ok := groups[id]
		if !ok {
			g = &summaryGroup{labels: labels, stem: stem}
			if groups == nil {
				groups = map[string]*summaryGroup{}
			}
			groups[id] = g
			order = append(order, g)
		}
		return g
	}

	// Sized for what comes out: a summary's lines make two metrics.
	grouped, complete := 0, 0
	for _, bits := range stemStats {
		if bits&(cntBit|sumBit) == cntBit|sumBit {
			grouped += bits16(bits)
			complete++
		}
	}
	out := make([]mntrMetric, 0, len(m.Samples)-grouped+2*complete)
	for k, s := range m.Samples {
		// Never named, never cached: a member sending fresh long keys, or
		// more keys than it may have series, must not grow the exporter.
		if lim.MaxNameLength > 0 && len(s.Key) > lim.MaxNameLength {
			out = append(out, mntrMetric{drop: dropNameLength})
			continue
		}
		if lim.MaxSeriesPerMember > 0 && len(out) >= lim.MaxSeriesPerMember {
			out = append(out, mntrMetric{drop: dropSeriesLimit})
			continue
		}
		if st := stat[k]; st >= 0 {
			if x := st >> 4; stemStats[x]&(cntBit|sumBit) == cntBit|sumBit {
				if keep(stems[x]) {
					stemGroup(x).set(int(st&15), s.Value)
				}
				continue
			}
		}
		if quantiled != nil {
			if base, suffix, ok := cutProviderSuffix(s.Key); ok && quantiled[base] {
				if !keep(base) {
					continue
				}
				i := statCount
				if suffix == "sum" {
					i = statSum
				}
				group("\x00"+base+labelID(s.Labels), base, nonNil(s.Labels)).set(i, s.Value)
				continue
			}
			if q := labelValue(s.Labels, "quantile"); q != "" {
				if !keep(s.Key) {
					continue
				}
				rest := withoutLabel(s.Labels, "quantile")
				g := group("\x00"+s.Key+labelID(rest), s.Key, nonNil(rest))
				if qv, err := parseQuantile(q); err == nil {
					if g.providerQuantile == nil {
						g.providerQuantile = map[float64]float64{}
					}
					g.providerQuantile[qv] = s.Value
				}
				continue
			}
		}
		if len(s.Labels) == 0 {
			if _, ok := curatedByKey[s.Key]; ok {
				continue
			}
		}
		if !keep(s.Key) {
			continue
		}
		out = append(out, n.passthrough(s))
	}
	for _, g := range order {
		out = n.appendSummary(out, g)
	}
	return out
}

func bits16(b uint16) int { return bits.OnesCount16(b) }

// nonNil marks a Prometheus-provider group: its keys are never split.
func nonNil(labels []fourletter.Label) []fourletter.Label {
	if labels == nil {
		return []fourletter.Label{}
	}
	return labels
}

// passthroughSpec is what a plain mntr key becomes; specs are cached by key
// (ZooKeeper sends the same few hundred keys every time).
type passthroughSpec struct {
	name, help string
	kind       valueKind
	divisor    float64
	maxName    string // summaries: the name of the _max gauge
	maxHelp    string // summaries: the help of the _max gauge
	known      bool   // a key or stem ZooKeeper sends (known.go)
}

// passthrough names a plain sample: counters get _total (and lose a _count
// that would read as a summary's), milliseconds become seconds.
func (n *Names) passthrough(s fourletter.Sample) mntrMetric {
	spec, ok := n.spec(s.Key)
	if !ok {
		spec = newPassthroughSpec(s.Key)
		n.keepSpec(s.Key, spec)
	}
	mm := mntrMetric{name: spec.name, help: spec.help, kind: spec.kind, value: s.Value / spec.divisor, known: spec.known && len(s.Labels) == 0}
	if len(s.Labels) > 0 {
		mm.labels = &mntrLabels{make([]string, len(s.Labels)), make([]string, len(s.Labels))}
		for i, l := range s.Labels {
			mm.labels.names[i], mm.labels.values[i] = l.Name, l.Value
		}
	}
	return mm
}

func newPassthroughSpec(key string) passthroughSpec {
	spec := passthroughSpec{help: "ZooKeeper mntr zk_" + key + ".", divisor: 1, known: knownKeys[key]}
	name := key
	// The renamed gauges first: they end in _count and are no counters.
	switch {
	case renamedGauges[key] != "":
		name = renamedGauges[key]
	case counterKeys[key] || strings.HasSuffix(key, "_count"):
		spec.kind = kindCounter
		name = strings.TrimSuffix(name, "_count")
	}
	if base, ok := millis(name); ok {
		name, spec.divisor = base+"_seconds", 1000
		spec.help = "ZooKeeper mntr zk_" + key + " (ms converted to seconds)."
	}
	if spec.kind == kindCounter {
		name += "_total"
	}
	spec.name = unreserve(name)
	return spec
}

func (n *Names) summarySpec(g *summaryGroup) passthroughSpec {
	// "\x01": summary stems and plain keys share the cache; "\x00" marks a
	// keyed stem.
	id := "\x01" + g.stem
	if g.key != "" {
		id = "\x01\x00" + g.stem
	}
	if spec, ok := n.spec(id); ok {
		return spec
	}
	// A keyed set is known by its suffix (splitKeyed only keys known sets).
	spec := passthroughSpec{name: g.stem, divisor: 1, kind: kindSummary, known: g.key != "" || knownStems[g.stem],
		help: "ZooKeeper mntr zk_{avg,min,max,cnt,sum,p50,p95,p99,p999}_" + keyPlaceholder(g.key) + g.stem}
	if base, ok := millis(spec.name); ok {
		spec.name, spec.divisor = base+"_seconds", 1000
		spec.help += " (ms converted to seconds)"
	}
	spec.name = unreserve(spec.name)
	spec.help += "."
	spec.maxName = spec.name + "_max"
	spec.maxHelp = "ZooKeeper mntr zk_max_" + keyPlaceholder(g.key) + g.stem + ": the maximum since start or the last srst."
	n.keepSpec(id, spec)
	return spec
}

// appendSummary appends what a summary group becomes: the summary and its
// maximum, or the drop that stands for them.
func (n *Names) appendSummary(out []mntrMetric, g *summaryGroup) []mntrMetric {
	spec := n.summarySpec(g)
	var labelNames, labelValues []string
	if g.key != "" || len(g.labels) > 0 {
		labelNames = make([]string, 0, len(g.labels)+1)
		labelValues = make([]string, 0, len(g.labels)+1)
		if g.key != "" {
			labelNames, labelValues = append(labelNames, "key"), append(labelValues, g.key)
		}
		for _, l := range g.labels {
			labelNames = append(labelNames, l.Name)
			labelValues = append(labelValues, l.Value)
		}
	}
	// The Prometheus provider's labelled sets are not in the tables.
	known := spec.known && g.labels == nil
	var labels *mntrLabels
	if labelNames != nil {
		labels = &mntrLabels{labelNames, labelValues}
	}
	sum := mntrMetric{name: spec.name, help: spec.help, kind: kindSummary, labels: labels, known: known, summary: &summaryValue{}}
	if g.labels != nil && (!g.has(statCount) || !g.has(statSum)) {
		// Quantiles without the provider's _count and _sum: no summary (a
		// made-up count of 0), and a quantile label on anything else is
		// reserved.
		return append(out, mntrMetric{drop: dropReservedName})
	}
	// The default provider's cnt_ and sum_, else the Prometheus
	// provider's _count and _sum.
	c, s := g.vals[statCount], g.vals[statSum]
	if g.has(statCnt) {
		c, s = g.vals[statCnt], g.vals[statSumDefault]
	}
	count, ok := toCount(c)
	if !ok {
		// A count of NaN, -1 or 1e300 is no count: no summary rather
		// than a made-up one.
		return append(out, mntrMetric{drop: dropInvalidValue})
	}
	sum.summary.count, sum.summary.sum = count, s/spec.divisor
	nq := len(g.providerQuantile)
	for i := range quantileIndex {
		if g.has(i) {
			nq++
		}
	}
	if nq > 0 {
		sum.summary.quantiles = make([]quantile, 0, nq)
	}
	for i, q := range quantileIndex {
		if v, ok := g.get(i); ok {
			sum.summary.quantiles = append(sum.summary.quantiles, quantile{q, v / spec.divisor})
		}
	}
	for q, v := range g.providerQuantile {
		if i, dup := quantileIndexOf(sum.summary.quantiles, q); dup {
			sum.summary.quantiles[i].v = v / spec.divisor // as a map would: the later one
		} else {
			sum.summary.quantiles = append(sum.summary.quantiles, quantile{q, v / spec.divisor})
		}
	}
	slices.SortFunc(sum.summary.quantiles, func(a, b quantile) int { return cmp.Compare(a.q, b.q) })
	// The maximum beside the summary: the worst fsync or election since
	// start tells more than the average. (The minimum, nearly always 0, is
	// left out: a series per summary that says little.)
	if v, ok := g.get(statMax); ok {
		return append(out, sum, mntrMetric{name: spec.maxName, kind: kindGauge, value: v / spec.divisor, known: known,
			help: spec.maxHelp, labels: labels})
	}
	return append(out, sum)
}

func quantileIndexOf(qs []quantile, q float64) (int, bool) {
	for i, x := range qs {
		if x.q == q {
			return i, true
		}
	}
	return 0, false
}

func keyPlaceholder(key string) string {
	if key == "" {
		return ""
	}
	return "<key>_"
}

// cutStat splits "p99_readlatency" into the index of "p99" in summaryStats
// and "readlatency".
func cutStat(key string) (int, string, bool) {
	prefix, stem, found := strings.Cut(key, "_")
	if !found || stem == "" {
		return 0, "", false
	}
	for i, st := range summaryStats {
		if prefix == st {
			return i, stem, true
		}
	}
	return 0, "", false
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
	if unkeyedStems[stem] {
		return stem, ""
	}
	for _, suffix := range keyedSuffixes {
		// stem ends in "_"+suffix, without building that string.
		if k, found := strings.CutSuffix(stem, suffix); found && len(k) > 1 && k[len(k)-1] == '_' {
			return suffix, k[:len(k)-1]
		}
	}
	return stem, ""
}

// millis reports whether a ZooKeeper name is in milliseconds, by
// ZooKeeper's naming: *_ms, *latency, *time.
func millis(name string) (string, bool) {
	if millisKeys[name] {
		return name, true
	}
	if base, ok := strings.CutSuffix(name, "_ms"); ok {
		return base, true
	}
	if strings.HasSuffix(name, "latency") || strings.HasSuffix(name, "time") {
		return name, true
	}
	return name, false
}

func unreserve(name string) string {
	if fixedNames[name] || strings.HasPrefix(name, "exporter_") || strings.HasPrefix(name, "ensemble_") || strings.HasPrefix(name, "member_") {
		return "mntr_" + name
	}
	return name
}

// toCount converts a summary's count, when it is one: a whole number from
// 0 to 2^53 (uint64 of NaN or 1e300 is whatever the machine makes of it).
func toCount(v float64) (uint64, bool) {
	if !(v >= 0 && v <= 1<<53) || v != math.Trunc(v) {
		return 0, false
	}
	return uint64(v), true
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

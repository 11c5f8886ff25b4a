package collector

import (
	"cmp"
	"slices"
	"strings"
)

// Limits bound what one member can add to a scrape: whatever its mntr
// says, it costs at most its own series, never another member's.
type Limits struct {
	// MaxSeriesPerMember caps the passthrough series of one member. A real
	// 3.9 leader sends about 600 mntr lines (fewer series: summaries fold
	// nine lines into one); the default leaves a wide margin.
	MaxSeriesPerMember int
	// MaxSeriesPerFamily caps the label sets one member gives one
	// passthrough family (per-namespace and per-server summaries: a few
	// dozen namespaces or servers in real ensembles).
	MaxSeriesPerFamily int
	// MaxNameLength and MaxLabelValueLength bound member-chosen strings in
	// bytes; longer ones are dropped, never cached.
	MaxNameLength       int
	MaxLabelValueLength int
	// MaxConfigServers caps the server lines of one member's conf that
	// become member_config_server_info series.
	MaxConfigServers int
}

// DefaultLimits are the limits when none are set.
func DefaultLimits() Limits {
	return Limits{MaxSeriesPerMember: 5000, MaxSeriesPerFamily: 500, MaxNameLength: 200, MaxLabelValueLength: 256, MaxConfigServers: 256}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	for _, f := range []struct {
		v *int
		d int
	}{{&l.MaxSeriesPerMember, d.MaxSeriesPerMember}, {&l.MaxSeriesPerFamily, d.MaxSeriesPerFamily},
		{&l.MaxNameLength, d.MaxNameLength}, {&l.MaxLabelValueLength, d.MaxLabelValueLength}, {&l.MaxConfigServers, d.MaxConfigServers}} {
		if *f.v <= 0 {
			*f.v = f.d
		}
	}
	return l
}

// Why a member's series was dropped: the reason label of
// zookeeper_member_series_dropped.
const (
	dropSeriesLimit      = "series_limit"
	dropLabelValuesLimit = "label_values_limit"
	dropNameLength       = "name_length"
	dropLabelValueLength = "label_value_length"
	dropReservedName     = "reserved_name"
	dropConflict         = "conflict"
	dropConfigServers    = "config_servers_limit"
	// dropInvalidValue: a summary whose count is no whole number from 0.
	dropInvalidValue = "invalid_value"
)

// passthroughDrops are the reasons the passthrough counts; the fixed
// metrics' collector counts dropConfigServers (a member's conf) alone, so
// each member sends one series a reason.
var passthroughDrops = []string{dropSeriesLimit, dropLabelValuesLimit, dropNameLength, dropLabelValueLength, dropReservedName, dropConflict, dropInvalidValue}

// reservedLabel says whether a member-chosen label name would break the
// exposition or mislead: le and quantile belong to histograms and
// summaries, __ to Prometheus, ensemble and server to the exporter.
func reservedLabel(name string) bool {
	switch name {
	case "le", "quantile", "ensemble", "server":
		return true
	}
	return strings.HasPrefix(name, "__")
}

// reservedSuffix: a gauge or counter whose name ends like a summary's or a
// histogram's series (or a gauge named like a counter) is no valid family.
func reservedSuffix(m mntrMetric) bool {
	if m.kind == kindSummary {
		return false
	}
	// As exposed: zookeeper_count ends in _count too. (No "_"+suffix:
	// this runs for every metric of every member.)
	ends := func(suffix string) bool {
		rest, found := strings.CutSuffix(m.name, suffix)
		return found && (rest == "" || strings.HasSuffix(rest, "_"))
	}
	if ends("sum") || ends("count") || ends("bucket") {
		return true
	}
	return m.kind == kindGauge && ends("total")
}

// admissible says why one mapped metric of a member cannot be sent
// whatever the others send ("" when it can).
func (l Limits) admissible(m mntrMetric) string {
	if m.drop != "" {
		return m.drop
	}
	if len(m.name) > l.MaxNameLength {
		return dropNameLength
	}
	if reservedSuffix(m) {
		return dropReservedName
	}
	for _, n := range m.labelNames() {
		if reservedLabel(n) {
			return dropReservedName
		}
		// A label name is a name the member chose: as long as a key at most.
		if len(n) > l.MaxNameLength {
			return dropNameLength
		}
	}
	for _, v := range m.labelValues() {
		if len(v) > l.MaxLabelValueLength {
			return dropLabelValueLength
		}
	}
	return ""
}

// schema is what a family must agree on across members.
type schema struct {
	name, help string
	kind       valueKind
	labels     string
}

// plan decides the schema of every passthrough family before any series
// is sent, so the order of members or names cannot matter: the schema
// most members send wins, then the one ZooKeeper itself sends (known.go:
// a lone healthy member keeps its shape beside a lone member making up a
// colliding one), then the one with fewer labels, then the name. The
// losers' series are dropped on their own members. Summaries also claim
// their _sum and _count names. (The fixed metrics cannot lose: unreserve
// keeps their names out of the passthrough.)
func plan(e *emitter, members []passMember, l Limits) {
	type stat struct {
		support, lastMember int
		known               bool
		labels              []string
	}
	n := 0
	for _, pm := range members {
		n = max(n, len(pm.metrics))
	}
	stats := make(map[schema]*stat, n)
	// A metric without labels of its own is judged by its spec alone:
	// its verdict and stat are kept by spec (a pointer to hash, not the
	// schema's help text, at every series of every member).
	bySpec := make(map[*passSpec]*stat, n)
	for member := range members {
		for i := range members[member].metrics {
			pm := &members[member].metrics[i]
			unlabelled := pm.labels == nil || len(pm.labels.names) == 0
			st, judged := bySpec[pm.spec]
			if !unlabelled || !judged {
				m := pm.view()
				st = nil
				if l.admissible(m) == "" {
					k := schema{name: m.name, help: m.help, kind: m.kind}
					if !unlabelled {
						k.labels = strings.Join(m.labels.names, "\xff")
					}
					if st = stats[k]; st == nil {
						st = &stat{lastMember: -1, labels: m.labelNames()}
						stats[k] = st
					}
				}
				if unlabelled {
					bySpec[pm.spec] = st
				}
			}
			if st == nil { // not admissible
				continue
			}
			st.known = st.known || pm.spec.known
			if st.lastMember != member { // a member counts once
				st.lastMember = member
				st.support++
			}
		}
	}
	// Sorted with their stats beside them: looking them up in the map
	// from the comparison hashed every schema's help text, 2n log n times.
	type entry struct {
		k  schema
		st *stat
	}
	keys := make([]entry, 0, len(stats))
	for k, st := range stats {
		keys = append(keys, entry{k, st})
	}
	// The comparisons one after the other, not cmp.Or's arguments: those
	// are all evaluated, help texts compared at every step.
	slices.SortFunc(keys, func(x, y entry) int {
		a, b, sa, sb := x.k, y.k, x.st, y.st
		if c := cmp.Compare(sb.support, sa.support); c != 0 {
			return c
		}
		if c := compareBool(sb.known, sa.known); c != 0 {
			return c
		}
		if c := cmp.Compare(len(sa.labels), len(sb.labels)); c != 0 {
			return c
		}
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := strings.Compare(a.labels, b.labels); c != 0 {
			return c
		}
		if c := strings.Compare(a.help, b.help); c != 0 {
			return c
		}
		return cmp.Compare(a.kind, b.kind)
	})
	for _, x := range keys {
		e.reserve(namespace+"_"+x.k.name, x.k.help, x.k.kind, append(memberLabels[:2:2], x.st.labels...), x.st.support)
	}
}

// compareBool orders false before true.
func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

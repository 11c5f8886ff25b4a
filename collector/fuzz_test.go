package collector

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// descParts reads a Desc's name and help: client_golang shows them only
// through String, as Go-quoted strings.
func descParts(t testing.TB, d *prometheus.Desc) (string, string) {
	s := d.String()
	field := func(key string) string {
		_, rest, ok := strings.Cut(s, key+": ")
		if !ok {
			t.Fatalf("desc %s: no %s", s, key)
		}
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			t.Fatalf("desc %s: %v", s, err)
		}
		v, _ := strconv.Unquote(q)
		return v
	}
	return field("fqName"), field("help")
}

func typeOf(m *dto.Metric) dto.MetricType {
	switch {
	case m.Summary != nil:
		return dto.MetricType_SUMMARY
	case m.Counter != nil:
		return dto.MetricType_COUNTER
	}
	return dto.MetricType_GAUGE
}

// expose turns member replies into the text exposition, the way a scrape
// does, and fails on anything Prometheus would reject.
func expose(t testing.TB, replies [][3][]byte) []byte {
	t.Helper()
	var snaps []ensemble.MemberSnapshot
	for i, r := range replies {
		m := config.Member{Address: "m" + string(rune('0'+i)) + ":2181", Observer: i == 3}
		snaps = append(snaps, ensemble.Snapshot(m, map[string][]byte{"srvr": r[0], "mntr": r[1], "conf": r[2]}))
	}
	// Families are assembled here rather than by a registry: the registry's
	// pools and maps make coverage vary from run to run, which blinds the
	// fuzzer. What the registry would reject is checked by hand: one type
	// and help per name, valid names, valid UTF-8 label values.
	ch := make(chan prometheus.Metric, 1<<16)
	// Both collectors through one emitter: a passthrough name that clashed
	// with a fixed one would show here. No name cache (nil Names): each
	// input runs the same code whatever came before.
	results := []ensemble.Result{ensemble.NewResult(ensemble.Target{Name: "fuzz"}, snaps, nil, time.Millisecond)}
	e := newEmitter(ch, nil, 0, 0)
	lim := DefaultLimits()
	for _, r := range results {
		emitResult(e, r, lim, dropLog{})
		var comp compactor
		var members []passMember
		for _, s := range r.Members {
			if s.Up && s.Mntr != nil {
				members = append(members, comp.compact(r.Target.Name, s.Member.Address, (*Names)(nil).mapMntr(s.Mntr, lim)))
			}
		}
		plan(e, members, lim)
		p := &passStream{members: members, byName: map[string]int32{}}
		for i := range members {
			dropLog{}.report(e, r.Target.Name, members[i].server, passthroughDrops, p.admit(e, i, lim))
		}
		p.sortFamilies()
		for f, mf := range p.all(false) {
			desc := prometheus.NewDesc(f.name, f.help, f.labelNames, nil)
			for _, m := range mf.Metric {
				ch <- builtMetric{desc, m}
			}
		}
	}
	close(ch)
	byName := map[string]*dto.MetricFamily{}
	series := map[string]bool{}
	var names []string
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatalf("write: %v", err)
		}
		name, help := descParts(t, m.Desc())
		typ := typeOf(&pb)
		fam, ok := byName[name]
		if !ok {
			fam = &dto.MetricFamily{Name: &name, Help: &help, Type: typ.Enum()}
			byName[name] = fam
			names = append(names, name)
		} else if fam.GetHelp() != help || fam.GetType() != typ {
			t.Fatalf("%s: two helps or types", name)
		}
		id := name
		for _, l := range pb.Label {
			id += "\x00" + l.GetName() + "=" + l.GetValue()
		}
		if series[id] {
			t.Fatalf("series sent twice: %q", id)
		}
		series[id] = true
		fam.Metric = append(fam.Metric, &pb)
	}
	sort.Strings(names)
	families := make([]*dto.MetricFamily, 0, len(names))
	for _, n := range names {
		families = append(families, byName[n])
	}
	var buf bytes.Buffer
	for _, mf := range families {

		if _, err := expfmt.MetricFamilyToText(&buf, mf); err != nil {
			t.Fatalf("encode: %v", err)
		}
	}
	parser := expfmt.NewTextParser(model.LegacyValidation)
	if _, err := parser.TextToMetricFamilies(bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, buf.Bytes())
	}
	return buf.Bytes()
}

// fuzzExecs counts executions: go test -fuzz under-reports this target's
// (FUZZ_EXEC_COUNT_DIR=dir makes each fuzz worker write its count there).
var fuzzExecs atomic.Int64

func FuzzExposition(f *testing.F) {
	dirs, _ := filepath.Glob("../fourletter/testdata/3.8.0/*")
	for _, d := range dirs {
		srvrs, _ := filepath.Glob(filepath.Join(d, "*-srvr.txt"))
		for _, s := range srvrs {
			prefix := strings.TrimSuffix(s, "srvr.txt")
			srvr, _ := os.ReadFile(prefix + "srvr.txt")
			mntr, _ := os.ReadFile(prefix + "mntr.txt")
			conf, _ := os.ReadFile(prefix + "conf.txt")
			f.Add(srvr, mntr, conf)
		}
	}
	f.Add([]byte("Mode: leader\nZxid: 0x1\n"), []byte("zk_a{key=\"x\"}\t1\nzk_a\t2\nzk_cnt_b\t1\nzk_sum_b\t2\nzk_b_count\t3\nzk_up\t1\n"), []byte("membership: \nserver.1=a:1:2\nversion=1"))
	f.Fuzz(func(t *testing.T, srvr, mntr, conf []byte) {
		fuzzExecs.Add(1)
		// The fuzzed member twice (so its series must not clash with
		// itself) beside a healthy leader.
		leader := [3][]byte{[]byte("Zookeeper version: 3.8.0\nMode: leader\nZxid: 0x100000005\n"), []byte("zk_server_state\tleader\nzk_synced_followers\t2\n"), nil}
		expose(t, [][3][]byte{leader, {srvr, mntr, conf}, {srvr, mntr, conf}})
	})
}

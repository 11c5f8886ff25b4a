package collector

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
)

// resultCollector emits fixed results, as a scrape does after polling.
type resultCollector struct{ results []Result }

func (c resultCollector) Describe(chan<- *prometheus.Desc) {}
func (c resultCollector) Collect(ch chan<- prometheus.Metric) {
	e := newEmitter(ch)
	for _, r := range c.results {
		emitResult(e, r)
	}
}

// expose turns member replies into the text exposition, the way a scrape
// does, and fails on anything Prometheus would reject.
func expose(t testing.TB, replies [][3][]byte) []byte {
	t.Helper()
	p := Poller{Logger: log.NewNopLogger()}
	var snaps []MemberSnapshot
	for i, r := range replies {
		s := MemberSnapshot{Member: config.Member{Address: "m" + string(rune('0'+i)) + ":2181", Observer: i == 3}, State: StateUnknown, Allowed: map[string]bool{}}
		for j, cmd := range Commands {
			if p.parse(&s, cmd, r[j]) {
				s.Up, s.Allowed[cmd] = true, true
			}
		}
		finishState(&s, false)
		snaps = append(snaps, s)
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(resultCollector{[]Result{{Target: Target{Name: "fuzz"}, Members: snaps, View: Derive(snaps), Duration: time.Millisecond}}})
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
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
		// The fuzzed member twice (so its series must not clash with
		// itself) beside a healthy leader.
		leader := [3][]byte{[]byte("Mode: leader\nZxid: 0x100000005\n"), []byte("zk_server_state\tleader\nzk_synced_followers\t2\n"), nil}
		expose(t, [][3][]byte{leader, {srvr, mntr, conf}, {srvr, mntr, conf}})
	})
}

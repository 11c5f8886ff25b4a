package collector

import (
	"bytes"
	"io"
	"os"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
)

// fiveMemberResult is a poll of a 3.8 ensemble from recorded replies: the
// leader, three followers and an observer.
func fiveMemberResult(b testing.TB) ensemble.Result {
	var snaps []ensemble.MemberSnapshot
	for i, role := range []string{"leader", "follower", "follower", "follower", "observer"} {
		replies := map[string][]byte{}
		for _, cmd := range ensemble.Commands {
			body, err := os.ReadFile("../fourletter/testdata/3.8.0/healthy/" + role + "-" + cmd + ".txt")
			if err != nil {
				b.Fatal(err)
			}
			replies[cmd] = body
		}
		snaps = append(snaps, ensemble.Snapshot(config.Member{Address: "10.0.0." + string(rune('1'+i)) + ":2181", Observer: role == "observer"}, replies))
	}
	return ensemble.NewResult(ensemble.Target{Name: "bench"}, snaps, nil, time.Millisecond)
}

// BenchmarkExposition5Members: from parsed replies to the text exposition
// of a 5-member ensemble (emit, gather, encode), as in every scrape.
func BenchmarkExposition5Members(b *testing.B) {
	r := fiveMemberResult(b)
	names := NewNames(0)
	gather := func() ([]*dto.MetricFamily, error) {
		return Gather([]ensemble.Result{r}, nil, names, Limits{}, nil, nil)
	}
	exposition5(b, gather)
}

// BenchmarkExposition5MembersRegistry is the same through a
// prometheus.Registry (collector.Registry), as the exporter gathered
// before collector.Gather.
func BenchmarkExposition5MembersRegistry(b *testing.B) {
	r := fiveMemberResult(b)
	exposition5(b, Registry([]ensemble.Result{r}, NewNames(0), Limits{}, nil).Gather)
}

func exposition5(b *testing.B, gather func() ([]*dto.MetricFamily, error)) {
	b.ReportAllocs()
	var size int
	for b.Loop() {
		fams, err := gather()
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, f := range fams {
			if err := enc.Encode(f); err != nil {
				b.Fatal(err)
			}
		}
		size = buf.Len()
	}
	b.ReportMetric(float64(size), "bytes/scrape")
}

// BenchmarkParseAndExpose5Members adds the parsing of the 15 replies.
func BenchmarkParseAndExpose5Members(b *testing.B) {
	names := NewNames(0)
	b.ReportAllocs()
	for b.Loop() {
		r := fiveMemberResult(b)
		fams, _ := Gather([]ensemble.Result{r}, nil, names, Limits{}, nil, nil)
		enc := expfmt.NewEncoder(io.Discard, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, f := range fams {
			enc.Encode(f)
		}
	}
}

// BenchmarkMapMntrLeader38: one 3.8 leader's parsed mntr (553 lines) to
// its passthrough metrics, as every member's is on every scrape.
func BenchmarkMapMntrLeader38(b *testing.B) {
	body, err := os.ReadFile("../fourletter/testdata/3.8.0/healthy/leader-mntr.txt")
	if err != nil {
		b.Fatal(err)
	}
	m, err := fourletter.ParseMntr(bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	names := NewNames(0)
	b.ReportAllocs()
	var n int
	for b.Loop() {
		n = len(names.mapMntr(&m, Limits{}.withDefaults()))
	}
	b.ReportMetric(float64(n), "metrics")
}

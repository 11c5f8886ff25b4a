package collector

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"
	dto "github.com/prometheus/client_model/go"
	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// TestMemberLimits: one member cannot fill a scrape: its series, the label
// sets of one family, its conf's server lines and the length of what it
// names are capped, and what was dropped is counted on it by reason.
func TestMemberLimits(t *testing.T) {
	head := "zk_version\t3.8.0\nzk_server_state\tfollower\n"
	var manyKeys, manyLabels, longNames strings.Builder
	for i := range 50000 {
		fmt.Fprintf(&manyKeys, "zk_key_%d\t1\n", i)
	}
	for i := range 30000 {
		fmt.Fprintf(&manyLabels, "zk_labelled{id=\"%d\"}\t1\n", i)
	}
	fmt.Fprintf(&longNames, "zk_%s\t1\nzk_ok{v=\"%s\"}\t1\nzk_ok2{%s=\"v\"}\t1\n", strings.Repeat("n", 10000), strings.Repeat("v", 10000), strings.Repeat("l", 10000))
	var conf strings.Builder
	conf.WriteString("clientPort=2181\nserverId=1\nmembership: \n")
	for i := 1; i <= 10000; i++ {
		fmt.Fprintf(&conf, "server.%d=10.1.%d.%d:2888:3888:participant\n", i, i/256, i%256)
	}
	conf.WriteString("version=100000000\n")

	for _, tc := range []struct {
		name    string
		replies map[string]string
		dropped map[string]float64
		check   func(t *testing.T, s scrapeResult)
	}{
		{"50,000 keys", map[string]string{"mntr": head + manyKeys.String()}, map[string]float64{dropSeriesLimit: 50000 - 5000}, nil},
		// The first 5,000 are mapped (the member's series cap), 500 of them sent.
		{"30,000 label sets of one family", map[string]string{"mntr": head + manyLabels.String()}, map[string]float64{dropSeriesLimit: 25000, dropLabelValuesLimit: 4500}, nil},
		{"10 KB name, label name and label value", map[string]string{"mntr": head + longNames.String()}, map[string]float64{dropNameLength: 2, dropLabelValueLength: 1}, nil},
		{"10,000 server lines", map[string]string{"srvr": "Zookeeper version: 3.8.0\nMode: follower\n", "conf": conf.String()}, map[string]float64{dropConfigServers: 10000 - 256},
			func(t *testing.T, s scrapeResult) {
				if n := len(s.families["zookeeper_member_config_server_info"].GetMetric()); n != 256 {
					t.Errorf("%d member_config_server_info series, want 256", n)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			replies := map[string][]byte{}
			for w, b := range tc.replies {
				replies[w] = []byte(b)
			}
			snap := ensemble.Snapshot(config.Member{Address: "10.0.0.1:2181"}, replies)
			r := ensemble.NewResult(ensemble.Target{Name: "e"}, []ensemble.MemberSnapshot{snap}, nil, time.Millisecond)
			names := NewNames(0)
			fams, err := Registry([]ensemble.Result{r}, names, Limits{}, nil).Gather()
			if err != nil {
				t.Fatal(err)
			}
			s := scrapeResult{families: map[string]*dto.MetricFamily{}}
			series := 0
			for _, f := range fams {
				s.families[f.GetName()] = f
				series += len(f.GetMetric())
			}
			got := map[string]float64{}
			for _, m := range s.families["zookeeper_member_series_dropped"].GetMetric() {
				got[labelOf(m, "reason")] = m.GetGauge().GetValue()
			}
			if !maps.Equal(got, tc.dropped) {
				t.Errorf("dropped by reason %v, want %v", got, tc.dropped)
			}
			if series > 5600 {
				t.Errorf("%d series in the scrape", series)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
			if b := names.Bytes(); b > 4<<20 {
				t.Errorf("the name cache holds %d bytes after one such scrape", b)
			}
			t.Logf("%s: %d series in all, dropped %v; name cache %d bytes", tc.name, series, got, names.Bytes())
		})
	}
}

// TestNamesBoundedByBytes: a member sending fresh names every scrape
// costs the name cache at most its bound, and old names are let go.
func TestNamesBoundedByBytes(t *testing.T) {
	const bound = 1 << 20
	names := NewNamesBytes(0, bound)
	head := "zk_version\t3.8.0\nzk_server_state\tfollower\n"
	peak := 0
	for scrape := range 500 {
		var mntr strings.Builder
		mntr.WriteString(head)
		for i := range 90 {
			// 190-byte names: under the length limit, so they are cached.
			fmt.Fprintf(&mntr, "zk_%s_%d_%d\t1\n", strings.Repeat("k", 170), scrape, i)
		}
		snap := ensemble.Snapshot(config.Member{Address: "10.0.0.1:2181"}, map[string][]byte{"mntr": []byte(mntr.String())})
		r := ensemble.NewResult(ensemble.Target{Name: "e"}, []ensemble.MemberSnapshot{snap}, nil, time.Millisecond)
		if _, err := Registry([]ensemble.Result{r}, names, Limits{}, nil).Gather(); err != nil {
			t.Fatal(err)
		}
		peak = max(peak, names.Bytes())
	}
	if peak > bound {
		t.Errorf("the name cache grew to %d bytes, bound %d", peak, bound)
	}
	// 45,000 fresh names went through: most were let go.
	if _, ok := names.spec(fmt.Sprintf("%s_0_0", strings.Repeat("k", 170))); ok {
		t.Errorf("a name of the first scrape is still cached after 500 scrapes of fresh names")
	}
	t.Logf("500 scrapes x 90 fresh 190-byte names: the cache peaked at %d bytes (bound %d)", peak, bound)
}

// TestDropsLoggedOnce: a member's drops are logged when their count
// changes, not every scrape; one that stops dropping and starts again is
// logged again. Over mntr (the passthrough) and conf (the fixed metrics).
func TestDropsLoggedOnce(t *testing.T) {
	head := "zk_version\t3.8.0\nzk_server_state\tfollower\n"
	keys := func(n int) string {
		var b strings.Builder
		b.WriteString(head)
		for i := range n {
			fmt.Fprintf(&b, "zk_key_%d\t1\n", i)
		}
		return b.String()
	}
	conf := func(servers int) string {
		var b strings.Builder
		b.WriteString("clientPort=2181\nserverId=1\nmembership: \n")
		for i := 1; i <= servers; i++ {
			fmt.Fprintf(&b, "server.%d=10.1.0.%d:2888:3888:participant\n", i, i)
		}
		return b.String() + "version=100000000\n"
	}
	lim := Limits{MaxSeriesPerMember: 10, MaxConfigServers: 3}
	names := NewNames(0)
	var logs strings.Builder
	logger := log.NewLogfmtLogger(log.NewSyncWriter(&logs))
	for i, tc := range []struct {
		keys, servers int
		want          []string // reason=count logged by this scrape
	}{
		{20, 5, []string{"reason=series_limit count=10", "reason=config_servers_limit count=2"}},
		{20, 5, nil},
		{30, 5, []string{"reason=series_limit count=20"}},
		{5, 2, nil},
		{20, 5, []string{"reason=series_limit count=10", "reason=config_servers_limit count=2"}},
	} {
		logs.Reset()
		snap := ensemble.Snapshot(config.Member{Address: "10.0.0.1:2181"}, map[string][]byte{
			"srvr": []byte("Zookeeper version: 3.8.0\nMode: follower\n"), "mntr": []byte(keys(tc.keys)), "conf": []byte(conf(tc.servers))})
		r := ensemble.NewResult(ensemble.Target{Name: "e"}, []ensemble.MemberSnapshot{snap}, nil, time.Millisecond)
		if _, err := Registry([]ensemble.Result{r}, names, lim, logger).Gather(); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if strings.Contains(line, "Series of a member dropped") {
				_, rest, _ := strings.Cut(line, " reason=")
				got = append(got, "reason="+rest)
			}
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tc.want))
		if !slices.Equal(got, want) {
			t.Errorf("scrape %d (%d keys, %d servers): logged %q, want %q", i+1, tc.keys, tc.servers, got, want)
		}
	}
}

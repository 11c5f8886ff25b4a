package collector

import (
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// TestSummaryCounts: a summary's count that is no whole number from 0 (NaN,
// +Inf, -1, 1e300, 2.5) is not turned into one: uint64(1e300) is whatever
// the machine makes of it, and 0 for NaN made up a count. The summary is
// dropped and counted (reason invalid_value); a sane count beside it is
// sent as ever, in both providers' forms.
func TestSummaryCounts(t *testing.T) {
	const head = "zk_version\t3.8.0\nzk_server_state\tfollower\n"
	sane := "zk_avg_fsynctime\t1\nzk_min_fsynctime\t0\nzk_max_fsynctime\t3\nzk_cnt_fsynctime\t10\nzk_sum_fsynctime\t12\n"
	// "10" and "10.0" (3.6+'s doubles) are counts: the control.
	for _, bad := range []string{"NaN", "+Inf", "-Inf", "-1", "1e300", "2.5", "9007199254740993e3", "10", "10.0"} {
		want := bad == "10" || bad == "10.0"
		for form, mntr := range map[string]string{
			"default provider":    "zk_avg_read_latency\t1\nzk_min_read_latency\t0\nzk_max_read_latency\t3\nzk_cnt_read_latency\t" + bad + "\nzk_sum_read_latency\t12\n",
			"prometheus provider": "zk_read_latency{quantile=\"0.5\"}\t1.0\nzk_read_latency_count\t" + bad + "\nzk_read_latency_sum\t12.0\n",
		} {
			snap := ensemble.Snapshot(config.Member{Address: "10.0.0.1:2181"}, map[string][]byte{"mntr": []byte(head + sane + mntr)})
			r := ensemble.NewResult(ensemble.Target{Name: "e"}, []ensemble.MemberSnapshot{snap}, nil, time.Millisecond)
			fams, err := Registry([]ensemble.Result{r}, NewNames(0), Limits{}, nil).Gather()
			if err != nil {
				t.Fatalf("%s %s: %v", form, bad, err)
			}
			got := map[string]bool{}
			dropped := 0.0
			for _, f := range fams {
				got[f.GetName()] = true
				if f.GetName() == "zookeeper_member_series_dropped" {
					for _, m := range f.GetMetric() {
						if labelOf(m, "reason") == dropInvalidValue {
							dropped = m.GetGauge().GetValue()
						}
					}
				}
				if f.GetName() == "zookeeper_fsynctime_seconds" && f.GetMetric()[0].GetSummary().GetSampleCount() != 10 {
					t.Errorf("%s %s: the sane summary's count %d", form, bad, f.GetMetric()[0].GetSummary().GetSampleCount())
				}
			}
			if got["zookeeper_read_latency_seconds"] != want || (dropped == 1) == want || !got["zookeeper_fsynctime_seconds"] {
				t.Errorf("%s, count %s: read_latency sent %v, dropped as invalid_value %v, fsynctime sent %v",
					form, bad, got["zookeeper_read_latency_seconds"], dropped, got["zookeeper_fsynctime_seconds"])
			}
		}
	}
}

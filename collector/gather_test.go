package collector

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
)

// recordedResults is one ensemble a directory of recorded replies
// (fourletter/testdata: every version, scenario and peer recording), its
// members the roles found there; the words a role lacks answer nothing.
func recordedResults(t *testing.T) []ensemble.Result {
	t.Helper()
	paths, err := filepath.Glob("../fourletter/testdata/*/*-mntr.txt")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../fourletter/testdata/*/*/*-mntr.txt")
	paths = append(paths, more...)
	more, _ = filepath.Glob("../fourletter/testdata/3.4/*/mntr.txt")
	paths = append(paths, more...)
	byDir := map[string][]string{}
	for _, p := range paths {
		byDir[filepath.Dir(p)] = append(byDir[filepath.Dir(p)], strings.TrimSuffix(p, "mntr.txt"))
	}
	dirs := make([]string, 0, len(byDir))
	for d := range byDir {
		dirs = append(dirs, d)
	}
	sort.Strings(dirs)
	var results []ensemble.Result
	for i, d := range dirs {
		var snaps []ensemble.MemberSnapshot
		for j, prefix := range byDir[d] {
			replies := map[string][]byte{}
			for _, cmd := range ensemble.Commands {
				if body, err := os.ReadFile(prefix + cmd + ".txt"); err == nil {
					replies[cmd] = body
				}
			}
			m := config.Member{Address: "10.0." + string(rune('a'+i%26)) + "." + string(rune('0'+j%10)) + ":2181", Observer: strings.Contains(prefix, "observer")}
			snaps = append(snaps, ensemble.Snapshot(m, replies))
		}
		name := strings.ReplaceAll(strings.TrimPrefix(d, "../fourletter/testdata/"), "/", "-")
		results = append(results, ensemble.NewResult(ensemble.Target{Name: name}, snaps, nil, time.Millisecond))
	}
	if len(results) < 10 {
		t.Fatalf("only %d recorded ensembles", len(results))
	}
	return results
}

// TestGatherMatchesRegistry: Gather gives what a registry of the same
// collectors gives (the same families, series, values, order), over every
// recorded reply, a hostile member's, and under each choice of what to
// expose, with exporter-like metrics of another registry beside them.
func TestGatherMatchesRegistry(t *testing.T) {
	recorded := recordedResults(t)
	five := fiveMemberResult(t)
	some := mustFilter(t, []string{"fsynctime", ".*_sessions", ".*_learner_handler_qp_size"}, []string{"local_.*"})
	for _, tc := range []struct {
		name    string
		results []ensemble.Result
		choices []Choice
		// registryErr: the registry refuses a series (and drops it) that
		// the emitter let through; Gather's check drops it too.
		registryErr string
	}{
		{"every recording, full passthrough", recorded, nil, ""},
		{"every recording, curated", recorded, repeatChoice(len(recorded), Choice{NoPassthrough: true}), ""},
		{"every recording, include and exclude", recorded, repeatChoice(len(recorded), Choice{Keys: some}), ""},
		{"five 3.8 members, mixed choices", []ensemble.Result{five, renamed(five, "b"), renamed(five, "c")},
			[]Choice{{}, {NoPassthrough: true}, {Keys: some}}, ""},
		{"a hostile member beside healthy ones", []ensemble.Result{hostileResult(t)}, nil, `duplicate label names in constant and variable labels for metric "zookeeper_z"`},
		{"nothing polled", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			global := prometheus.NewRegistry()
			global.MustRegister(collectors.NewBuildInfoCollector(), prometheus.NewGauge(prometheus.GaugeOpts{Name: "zookeeper_exporter_config_last_reload_successful", Help: "h"}))
			reg := RegistryChoosing(tc.results, tc.choices, NewNames(0), Limits{}, nil)
			want, err := prometheus.Gatherers{global, reg}.Gather()
			if (err != nil || tc.registryErr != "") && (err == nil || !strings.Contains(err.Error(), tc.registryErr)) {
				t.Fatalf("registry: %v, want %q", err, tc.registryErr)
			}
			got, err := Gather(tc.results, tc.choices, NewNames(0), Limits{}, nil, global)
			if err != nil {
				t.Fatalf("Gather: %v", err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d families, the registry %d", len(got), len(want))
			}
			series := 0
			for i := range want {
				series += len(want[i].GetMetric())
				if tc.registryErr != "" && want[i].GetName() == "zookeeper_member_series_dropped" {
					// What the registry refused is a drop Gather counts:
					// one more conflict on the member that sent it.
					g, w := droppedOn(got[i], "10.9.9.9:2181"), droppedOn(want[i], "10.9.9.9:2181")
					if g != w+1 {
						t.Errorf("Gather counts %v conflicts on the hostile member, the registry path %v: want one more", g, w)
					}
					continue
				}
				if !proto.Equal(got[i], want[i]) {
					t.Fatalf("family %d differs:\n got %v\nwant %v", i, short(got[i]), short(want[i]))
				}
			}
			// What the handler writes: the families built one at a time in
			// memory they share, each encoded before the next is built.
			var gathered, streamed bytes.Buffer
			for _, f := range got {
				if _, err := expfmt.MetricFamilyToText(&gathered, f); err != nil {
					t.Fatal(err)
				}
			}
			held := 0
			for _, r := range tc.results {
				for _, m := range r.Members {
					if m.Mntr != nil {
						held++
					}
				}
			}
			enc := expfmt.NewEncoder(&streamed, expfmt.NewFormat(expfmt.TypeTextPlain))
			for f := range Collect(tc.results, tc.choices, NewNames(0), Limits{}, nil, global).Families(true) {
				if err := enc.Encode(f); err != nil {
					t.Fatal(err)
				}
			}
			if streamed.String() != gathered.String() {
				t.Errorf("the streamed exposition (%d bytes) differs from Gather's (%d bytes)", streamed.Len(), gathered.Len())
			}
			// Collect lets the parsed replies go on its own copy only.
			for _, r := range tc.results {
				for _, m := range r.Members {
					if m.Mntr != nil {
						held--
					}
				}
			}
			if held != 0 {
				t.Errorf("Collect took %d parsed replies from its caller's results", held)
			}
			t.Logf("%d families, %d series, identical; streamed: %d bytes, identical", len(want), series, streamed.Len())
		})
	}
}

// droppedOn is a member's conflict drops in a series_dropped family.
func droppedOn(f *dto.MetricFamily, server string) float64 {
	for _, m := range f.GetMetric() {
		if labelOf(m, "server") == server && labelOf(m, "reason") == "conflict" {
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func repeatChoice(n int, c Choice) []Choice {
	out := make([]Choice, n)
	for i := range out {
		out[i] = c
	}
	return out
}

func renamed(r ensemble.Result, name string) ensemble.Result {
	r.Target.Name = name
	return r
}

// short is a family's name and first series, for a failure message.
func short(f *dto.MetricFamily) string {
	s := f.GetName() + " " + f.GetType().String() + " " + f.GetHelp()
	if len(f.GetMetric()) > 0 {
		s += " " + f.GetMetric()[0].String()
	}
	return s + " (" + strconv.Itoa(len(f.GetMetric())) + " series)"
}

// hostileResult is a healthy 3.8 leader beside a member whose mntr holds
// what the emitter must drop: invalid names and UTF-8, reserved and
// repeated labels, a summary's names taken, repeated keys, a quantile
// without its summary.
func hostileResult(t *testing.T) ensemble.Result {
	t.Helper()
	healthy := fiveMemberResult(t).Members[0]
	mntr := "zk_version\t3.8.0-x\nzk_server_state\tfollower\n" +
		"zk_bad-name\t1\nzk_x{key=\"\xff\"}\t1\nzk_y{__name__=\"a\"}\t2\nzk_z{key=\"a\",key=\"b\"}\t3\n" +
		"zk_avg_q\t1\nzk_cnt_q\t2\nzk_sum_q\t3\nzk_q_count\t5\nzk_q_sum\t1\nzk_dup\t1\nzk_dup\t2\n" +
		"zk_w{quantile=\"0.5\"}\t1\nzk_server\t1\nzk_up\t7\nzk_ensemble_quorum\t1\n" + strings.Repeat("zk_k{key=\"v\"}\t1\n", 3)
	bad := ensemble.Snapshot(config.Member{Address: "10.9.9.9:2181"}, map[string][]byte{
		"srvr": []byte("Zookeeper version: 3.8.0-x\nMode: follower\nZxid: 0x1\n"), "mntr": []byte(mntr)})
	if !bad.Up {
		t.Fatal("the hostile member is not up: its mntr is not read")
	}
	return ensemble.NewResult(ensemble.Target{Name: "hostile"}, []ensemble.MemberSnapshot{healthy, bad}, nil, time.Millisecond)
}

package collector

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../fourletter/testdata/3.8.0/healthy/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// healthyReplies are a real follower's replies.
func healthyReplies(t *testing.T) map[string][]byte {
	return map[string][]byte{"srvr": fixture(t, "follower-srvr.txt"), "mntr": fixture(t, "follower-mntr.txt"),
		"conf": fixture(t, "follower-conf.txt"), "ruok": []byte("imok")}
}

// TestHostileMember: one member of five misbehaves; the scrape stays
// complete for the other four, ends within that member's deadline plus a
// margin, and reports the bad member without breaking the exposition.
func TestHostileMember(t *testing.T) {
	const deadline = time.Second
	garbage := bytes.Repeat([]byte{0x00, 0xff, 0x13, 0x37, '\n', 0x80}, 200)
	tenMiB := append([]byte("zk_version\t3.8.0-x, built on today\nzk_server_state\tfollower\n"), bytes.Repeat([]byte("zk_outstanding_requests\t1\n"), 10<<20/25)...)
	badLines := []byte(strings.Join([]string{
		"zk_version\t3.8.0-x, built on today", "zk_server_state\tfollower",
		"no separator here", "zk_znode_count\tlots", "zk_watch_count\tNaN", "zk_ephemerals_count\t+Inf",
		"zk_outstanding_requests\t1", "zk_outstanding_requests\t2", `zk_x{key="unterminated\t1`, `zk_y{1bad="v"}` + "\t1",
		`zk_z{key="ok",key2="\xff\xfe"}` + "\t1", "zk_a-b\t1", "zk_p50_readlatency\t1", "zk_cnt_readlatency\t2", "zk_sum_readlatency\t3",
		"zk_readlatency_count\t9", "zk_readlatency\t4"}, "\n"))
	srvrText := fixture(t, "follower-srvr.txt")
	mntrText := fixture(t, "follower-mntr.txt")

	type check func(t *testing.T, s scrapeResult)
	upIs := func(want float64) check {
		return func(t *testing.T, s scrapeResult) { s.expect(t, "zookeeper_up", want) }
	}
	for _, tc := range []struct {
		name   string
		setup  func(t *testing.T) string // returns the bad member's address
		check  check
		reason string // zookeeper_member_down_reason, "" when up
	}{
		{"connection refused", func(t *testing.T) string { return deadAddr(t) }, upIs(0), "refused"},
		{"accepts, never answers", badServer(nil, fakezk.Stall), upIs(0), "timeout"},
		{"half then stalls", badServer(map[string][]byte{"srvr": srvrText, "mntr": mntrText, "conf": srvrText, "ruok": []byte("imok")}, fakezk.HalfThenStall), upIs(0), "timeout"},
		{"drips a byte every 100ms", badServer(map[string][]byte{"srvr": srvrText, "mntr": mntrText, "conf": srvrText, "ruok": []byte("imok")}, fakezk.Drip), upIs(0), "timeout"},
		{"closes at once", badServer(nil, fakezk.CloseAtOnce), upIs(0), "empty"},
		{"resets", badServer(map[string][]byte{"srvr": nil, "mntr": nil, "conf": nil, "ruok": nil}, fakezk.Reset), upIs(0), "reset"},
		{"10 MiB of mntr", badServer(map[string][]byte{"srvr": srvrText, "mntr": tenMiB}, fakezk.Answer), func(t *testing.T, s scrapeResult) {
			s.expect(t, "zookeeper_up", 1)
			s.expect(t, "zookeeper_outstanding_requests", 1)
			if v := s.value("zookeeper_member_malformed_lines"); v < 1000 {
				t.Errorf("malformed lines %v: the repeated keys were not counted", v)
			}
		}, ""},
		{"10 MiB of garbage everywhere", badServer(map[string][]byte{"srvr": bytes.Repeat(garbage, 10<<20/len(garbage)), "mntr": bytes.Repeat(garbage, 10<<20/len(garbage)), "ruok": garbage}, fakezk.Answer), upIs(0), "garbage"},
		// Random bytes hold '=' and ':' here and there: they parsed as an
		// empty conf (up 1, conf allowed) before each word's marks were
		// required.
		{"64 KiB of random bytes for every word", badServer(map[string][]byte{"srvr": randomBytes(1, 64<<10), "mntr": randomBytes(2, 64<<10), "conf": randomBytes(3, 64<<10), "ruok": randomBytes(4, 64<<10)}, fakezk.Answer), func(t *testing.T, s scrapeResult) {
			s.expect(t, "zookeeper_up", 0)
			if s.has("zookeeper_four_letter_word_allowed") {
				t.Errorf("random bytes counted as an answer to some word")
			}
		}, "garbage"},
		{"binary garbage", badServer(map[string][]byte{"srvr": garbage, "mntr": garbage, "conf": garbage, "ruok": garbage}, fakezk.Answer), upIs(0), "garbage"},
		{"malformed lines", badServer(map[string][]byte{"srvr": srvrText, "mntr": badLines}, fakezk.Answer), func(t *testing.T, s scrapeResult) {
			s.expect(t, "zookeeper_up", 1)
			s.expect(t, "zookeeper_outstanding_requests", 1) // the first of the duplicates
			s.expect(t, "zookeeper_member_malformed_lines", 6)
		}, ""},
		{"another command's output", badServer(map[string][]byte{"srvr": mntrText, "mntr": srvrText, "conf": srvrText, "ruok": []byte("imok")}, fakezk.Answer), func(t *testing.T, s scrapeResult) {
			// srvr's text is no mntr and mntr's no srvr, but the mntr text
			// under srvr still names the state.
			s.expect(t, "zookeeper_up", 1)
		}, ""},
		{"IPv6 member", func(t *testing.T) string {
			srv := fakezk.NewOn(t, "[::1]:0", nil)
			srv.SetAll(healthyReplies(t), fakezk.Answer)
			return srv.Addr()
		}, func(t *testing.T, s scrapeResult) {
			s.expect(t, "zookeeper_up", 1)
			s.expect(t, "zookeeper_serving", 1)
		}, ""},
		{"name that does not resolve", func(t *testing.T) string { return "zk-does-not-exist.invalid:2181" }, upIs(0), "resolve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var members []config.Member
			healthy := map[string]bool{}
			for i := 0; i < 4; i++ {
				srv := fakezk.New(t)
				srv.SetAll(healthyReplies(t), fakezk.Answer)
				members = append(members, config.Member{Address: srv.Addr(), Observer: i == 3})
				healthy[srv.Addr()] = true
			}
			bad := tc.setup(t)
			members = append(members, config.Member{Address: bad})
			cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "h", Servers: members, Timeout: config.Duration(deadline)}}}
			h := newHandler(cfg)
			// Names resolve only through this resolver, which answers
			// nothing: no lookup leaves the machine.
			h.Poller.Resolver = &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
				return nil, errors.New("no DNS in tests")
			}}
			rec := httptest.NewRecorder()
			start := time.Now()
			h.ServeMetrics(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
			took := time.Since(start)
			// A hang check, not a timing one (make bench times it).
			if limit := deadline + 15*time.Second; took > limit {
				t.Errorf("scrape took %v, want under %v", took, limit)
			}
			all := parseScrape(t, rec.Body.Bytes())
			for addr := range healthy {
				s := all.member(addr)
				s.expect(t, "zookeeper_up", 1)
				s.expect(t, "zookeeper_serving", 1)
				for _, name := range []string{"zookeeper_zxid_epoch", "zookeeper_outstanding_requests", "zookeeper_znodes", "zookeeper_server_info", "zookeeper_fsynctime_seconds"} {
					if !s.has(name) {
						t.Errorf("healthy member %s lacks %s", addr, name)
					}
				}
			}
			tc.check(t, all.member(bad))
			reason := ""
			for _, m := range all.families["zookeeper_member_down_reason"].GetMetric() {
				if labelOf(m, "server") == bad {
					reason = labelOf(m, "reason")
				}
			}
			if reason != tc.reason {
				t.Errorf("down reason %q, want %q", reason, tc.reason)
			}
			t.Logf("%s: scrape %v, bad member up=%v reason=%q", tc.name, took.Round(time.Millisecond), all.member(bad).value("zookeeper_up"), reason)
		})
	}
}

func labelOf(m interface{ GetLabel() []*dto.LabelPair }, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func badServer(replies map[string][]byte, b fakezk.Behaviour) func(t *testing.T) string {
	return func(t *testing.T) string {
		srv := fakezk.New(t)
		for _, cmd := range []string{"srvr", "mntr", "conf", "ruok"} {
			srv.Set(cmd, replies[cmd], b)
		}
		return srv.Addr()
	}
}

// randomBytes is n bytes from a fixed seed: the same every run.
func randomBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestHostileNamesCostOnlyTheirMember: a member of ensemble "a-hostile"
// sends, for every key a healthy 3.8 leader sends, the same key with a
// label of its own (and names Prometheus reserves). The healthy ensemble
// "b-healthy" (its name sorts after) keeps every series it has alone; the
// hostile member's series are dropped and counted on it.
func TestHostileNamesCostOnlyTheirMember(t *testing.T) {
	leaderMntr := string(fixture(t, "leader-mntr.txt"))
	var hostile strings.Builder
	hostile.WriteString("zk_version\t3.8.0\nzk_server_state\tfollower\n")
	for _, line := range strings.Split(leaderMntr, "\n") {
		key, _, ok := strings.Cut(line, "\t")
		if !ok || strings.ContainsAny(key, "{") || key == "zk_version" || key == "zk_server_state" {
			continue
		}
		fmt.Fprintf(&hostile, "%s{evil=\"1\"}\t1\n", key)
		if _, stem, ok := strings.Cut(strings.TrimPrefix(key, "zk_"), "_"); ok {
			fmt.Fprintf(&hostile, "zk_%s{evil=\"1\"}\t1\n", stem)
		}
	}
	hostile.WriteString("zk_w9{le=\"1\"}\t1\nzk_x_sum\t1\nzk_x_bucket\t1\nzk_y_total\t1\nzk_w10{quantile=\"0.5\"}\t1\n")

	healthyResult := func() ensemble.Result {
		var snaps []ensemble.MemberSnapshot
		for i, role := range []string{"leader", "follower", "follower", "observer"} {
			replies := map[string][]byte{}
			for _, w := range ensemble.Commands {
				replies[w] = fixture(t, role+"-"+w+".txt")
			}
			snaps = append(snaps, ensemble.Snapshot(config.Member{Address: fmt.Sprintf("10.0.1.%d:2181", i+1), Observer: role == "observer"}, replies))
		}
		return ensemble.NewResult(ensemble.Target{Name: "b-healthy"}, snaps, nil, time.Millisecond)
	}
	hostileSnap := ensemble.Snapshot(config.Member{Address: "10.0.0.1:2181"}, map[string][]byte{"mntr": []byte(hostile.String())})
	if !hostileSnap.Up {
		t.Fatal("the hostile member's mntr was not taken as an answer")
	}
	hostileResult := ensemble.NewResult(ensemble.Target{Name: "a-hostile"}, []ensemble.MemberSnapshot{hostileSnap}, nil, time.Millisecond)

	expose := func(results ...ensemble.Result) string {
		var buf bytes.Buffer
		fams, err := Registry(results, NewNames(0), Limits{}, nil).Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		for _, f := range fams {
			if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
				t.Fatal(err)
			}
		}
		return buf.String()
	}
	seriesOf := func(text, ensembleName string) map[string]bool {
		out := map[string]bool{}
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, `ensemble="`+ensembleName+`"`) && !strings.HasPrefix(line, "zookeeper_ensemble_poll_duration") &&
				!strings.HasPrefix(line, "zookeeper_member_poll_duration") {
				out[line] = true
			}
		}
		return out
	}
	alone := seriesOf(expose(healthyResult()), "b-healthy")
	both := expose(hostileResult, healthyResult())
	withHostile := seriesOf(both, "b-healthy")
	missing := 0
	for line := range alone {
		if !withHostile[line] {
			missing++
			if missing <= 5 {
				t.Errorf("b-healthy lost %s", line)
			}
		}
	}
	if missing > 0 || len(withHostile) != len(alone) {
		t.Errorf("b-healthy: %d series alone, %d beside the hostile member, %d lost", len(alone), len(withHostile), missing)
	}
	dropped := 0.0
	for _, line := range strings.Split(both, "\n") {
		if strings.HasPrefix(line, `zookeeper_member_series_dropped{ensemble="a-hostile"`) {
			var v float64
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
			dropped += v
		}
	}
	if dropped == 0 {
		t.Errorf("the hostile member's dropped series are not counted")
	}
	for _, bad := range []string{`le="1"`, "zookeeper_x_sum", "zookeeper_x_bucket", "zookeeper_y_total", "zookeeper_w10"} {
		if strings.Contains(both, bad) {
			t.Errorf("a reserved name or label reached the exposition: %s", bad)
		}
	}
	if promtool, err := exec.LookPath("promtool"); err == nil {
		cmd := exec.Command(promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(both)
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
	}
	t.Logf("b-healthy: %d series alone and beside the hostile member; the hostile member: %v series dropped", len(alone), dropped)
}

// TestHostileLoneMember: one healthy 3.8 leader beside one member that,
// for every name the leader's scrape holds (fixed, curated and
// passthrough), sends the keys that map to that name in another shape: a
// plain key for a summary, a summary for a gauge, milliseconds for
// seconds, a _count for a _total, labels of its own. As many members send
// each shape (one), so only knowing what ZooKeeper sends decides: the
// leader's series are those it has alone, whatever the names' order.
func TestHostileLoneMember(t *testing.T) {
	replies := map[string][]byte{}
	for _, w := range ensemble.Commands {
		replies[w] = fixture(t, "leader-"+w+".txt")
	}
	leader := ensemble.Snapshot(config.Member{Address: "10.0.1.1:2181"}, replies)
	healthy := ensemble.NewResult(ensemble.Target{Name: "b-healthy"}, []ensemble.MemberSnapshot{leader}, nil, time.Millisecond)
	gather := func(results ...ensemble.Result) string {
		fams, err := Registry(results, NewNames(0), Limits{}, nil).Gather()
		if err != nil {
			t.Fatalf("gather: %v", err)
		}
		var buf bytes.Buffer
		for _, f := range fams {
			if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
				t.Fatal(err)
			}
		}
		return buf.String()
	}
	alone := gather(healthy)

	names := map[string]bool{}
	for _, line := range strings.Split(alone, "\n") {
		if name, _, ok := strings.Cut(line, "{"); ok && !strings.HasPrefix(line, "#") {
			names[strings.TrimPrefix(name, "zookeeper_")] = true
		}
	}
	var mntr strings.Builder
	mntr.WriteString("zk_version\t3.8.0\nzk_server_state\tfollower\n")
	seen := map[string]bool{}
	key := func(k string) {
		if !seen[k] {
			seen[k] = true
			fmt.Fprintf(&mntr, "zk_%s\t7\n", k)
		}
	}
	summaryOf := func(stem string) {
		for _, stat := range []string{"avg", "min", "max", "cnt", "sum", "p50"} {
			key(stat + "_" + stem)
		}
	}
	for n := range names {
		bases := []string{n}
		for _, suffix := range []string{"_seconds", "_total", "_max", "_sum", "_count", "_seconds_max"} {
			if b, ok := strings.CutSuffix(n, suffix); ok {
				bases = append(bases, b, b+"_ms", b+"_count")
			}
		}
		for _, b := range bases {
			key(b)
			key(b + "_ms")
			key(b + `{evil="1"}`)
			summaryOf(b)
			summaryOf(b + "_ms")
		}
	}
	hostile := ensemble.Snapshot(config.Member{Address: "10.0.0.1:2181"}, map[string][]byte{"mntr": []byte(mntr.String())})
	if !hostile.Up {
		t.Fatal("the hostile member's mntr was not taken as an answer")
	}
	both := gather(ensemble.NewResult(ensemble.Target{Name: "a-hostile"}, []ensemble.MemberSnapshot{hostile}, nil, time.Millisecond), healthy)

	// The leader's series (and the HELP and TYPE of its families) are
	// those it has alone, poll durations aside.
	onlyHealthy := func(text string) map[string]bool {
		out := map[string]bool{}
		for _, line := range strings.Split(text, "\n") {
			if strings.Contains(line, `ensemble="b-healthy"`) && !strings.Contains(line, "poll_duration") {
				out[line] = true
			}
		}
		return out
	}
	a, b := onlyHealthy(alone), onlyHealthy(both)
	lost := 0
	for line := range a {
		if !b[line] {
			if lost++; lost <= 5 {
				t.Errorf("b-healthy lost %s", line)
			}
		}
	}
	if lost > 0 || len(a) != len(b) {
		t.Errorf("b-healthy: %d series alone, %d beside the hostile member, %d lost", len(a), len(b), lost)
	}
	helps := func(text string) map[string]string {
		out := map[string]string{}
		for _, line := range strings.Split(text, "\n") {
			if rest, ok := strings.CutPrefix(line, "# HELP "); ok {
				name, help, _ := strings.Cut(rest, " ")
				out[name] = help
			}
		}
		return out
	}
	hb := helps(both)
	for name, help := range helps(alone) {
		if hb[name] != help {
			t.Errorf("%s: help %q beside the hostile member, %q alone", name, hb[name], help)
		}
	}
	for _, p := range promtoolProblems(t, both) {
		t.Errorf("promtool check metrics: %s", p)
	}
	t.Logf("%d hostile keys against %d names: b-healthy keeps its %d series", len(seen), len(names), len(a))
}

// styleLints are promtool's complaints about how a name reads (a member's
// "zk_x_ms_ms" becomes x_ms_seconds), not about what the exposition means.
var styleLints = []string{"should not contain abbreviated units", "use base unit", "camelCase", "should not include type"}

// promtoolProblems runs promtool check metrics on an exposition and
// returns what it reports, style aside; nil without promtool, unless
// ZK_REQUIRED=1 asks for it.
func promtoolProblems(t *testing.T, exposition string) []string {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("ZK_REQUIRED") == "1" {
			t.Fatalf("promtool not found and ZK_REQUIRED=1")
		}
		t.Log("promtool not found: exposition not checked by it")
		return nil
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(exposition)
	out, err := cmd.CombinedOutput()
	var problems []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		style := line == ""
		for _, s := range styleLints {
			style = style || strings.Contains(line, s)
		}
		if !style {
			problems = append(problems, line)
		}
	}
	if err != nil && len(problems) == 0 && len(out) == 0 {
		problems = append(problems, err.Error())
	}
	return problems
}

package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// rawFloor asks every member the exporter's words (srvr, mntr, conf) at
// once over plain TCP and reads each answer to EOF: what no exporter can
// beat. It returns the wall time.
func rawFloor(b *testing.B, addrs []string) time.Duration {
	start := time.Now()
	var wg sync.WaitGroup
	for _, addr := range addrs {
		for _, cmd := range []string{"srvr", "mntr", "conf"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", addr, 2*time.Second)
				if err != nil {
					b.Error(err)
					return
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(2 * time.Second))
				io.WriteString(c, cmd)
				io.Copy(io.Discard, c)
			}()
		}
	}
	wg.Wait()
	return time.Since(start)
}

type durations []time.Duration

func (d durations) pct(p float64) time.Duration {
	s := append(durations(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// cpuTicks is a process' user+system CPU time from /proc.
func cpuTime(b *testing.B, pid int) time.Duration {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	utime, _ := strconv.Atoi(fields[11])
	stime, _ := strconv.Atoi(fields[12])
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// BenchmarkScrapeRealEnsemble scrapes the exporter over HTTP while it polls
// a real, healthy 3 voters + 1 observer ensemble, and beside each scrape
// measures the raw parallel floor. Reported: median and p99 of both, their
// ratio, and the exporter's CPU per 1,000 scrapes. Run with -benchtime 200x.
func BenchmarkScrapeRealEnsemble(b *testing.B) {
	e := zkensemble.Start(b, zkensemble.Options{Voters: 3, Observers: 1})
	x := startExporter(b, "--zookeeper.servers="+e.Servers(), "--zookeeper.ensemble=bench")
	var addrs []string
	for _, m := range e.Members {
		addrs = append(addrs, m.Addr())
	}
	for i := 0; i < 20; i++ { // warm up the JVMs' 4lw paths and the exporter
		x.scrape("/metrics")
		rawFloor(b, addrs)
	}
	scrapes, floors := make(durations, 0, b.N), make(durations, 0, b.N)
	cpuBefore := cpuTime(b, x.cmd.Process.Pid)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := x.scrape("/metrics")
		scrapes = append(scrapes, s.took)
		floors = append(floors, rawFloor(b, addrs))
		if v, _ := s.value("zookeeper_ensemble_voters_up", ""); v != 3 {
			b.Fatalf("scrape %d: voters_up %v, want 3", i, v)
		}
	}
	b.StopTimer()
	cpu := cpuTime(b, x.cmd.Process.Pid) - cpuBefore
	b.ReportMetric(ms(scrapes.pct(0.5)), "ms-median")
	b.ReportMetric(ms(scrapes.pct(0.99)), "ms-p99")
	b.ReportMetric(ms(floors.pct(0.5)), "floor-ms-median")
	b.ReportMetric(ms(floors.pct(0.99)), "floor-ms-p99")
	b.ReportMetric(float64(scrapes.pct(0.5))/float64(floors.pct(0.5)), "x-floor")
	b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-s/1000-scrapes")
}

// BenchmarkScrapeTwoHung: 5 fake members, 2 of which accept and never
// answer; the scrape must take about one deadline (2s by default).
func BenchmarkScrapeTwoHung(b *testing.B) {
	replies := fixtureReplies(b, "3.8.0/healthy/follower")
	var servers []string
	for i := 0; i < 5; i++ {
		srv := fakezk.New(b)
		behaviour := fakezk.Answer
		if i >= 3 {
			behaviour = fakezk.Stall
		}
		srv.SetAll(replies, behaviour)
		servers = append(servers, srv.Addr())
	}
	x := startExporter(b, "--zookeeper.servers="+strings.Join(servers, ","))
	times := make(durations, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s := x.scrape("/metrics")
		times = append(times, s.took)
		for m, srv := range servers {
			want := 1.0
			if m >= 3 {
				want = 0 // hung
			}
			if v, _ := s.value("zookeeper_up", "server="+srv); v != want {
				b.Fatalf("scrape %d: member %d (%s) up %v, want %v", i, m, srv, v, want)
			}
		}
	}
	b.ReportMetric(ms(times.pct(0.5)), "ms-median")
	b.ReportMetric(ms(times.pct(0.99)), "ms-p99")
	b.ReportMetric(float64(times.pct(0.99))/float64(2*time.Second), "x-deadline-p99")
}

// BenchmarkScrape1000Members: 200 ensembles of 5 fake members on loopback in
// one scrape, with the default deadline, max-concurrency and collector
// limits. "3.8-healthy" replays the real 3.8.0 replies of a healthy
// ensemble (a leader's 553-line mntr, four followers' 502 lines), the case
// that matters; "3.4-replies" the small replies of 3.4. Reported: the
// scrape time, the exporter's peak and final RSS, the connections open at
// once on the members' side, the series and the exposition size. Every
// member must be up in every scrape.
func BenchmarkScrape1000Members(b *testing.B) {
	configs := map[string]string{} // fixture: the configuration of its fake members, made once
	for _, tc := range []struct{ name, fixture, query string }{
		{"3.4-replies", "3.4/leader-3.4.6", ""},
		{"3.8-healthy", "3.8.0/healthy", ""},
		// The choices of what to expose, on the same members.
		{"3.8-healthy-curated", "3.8.0/healthy", "?collect[]=curated"},
		{"3.8-healthy-include", "3.8.0/healthy", "?" + benchInclude},
	} {
		// The members live as long as the parent benchmark: a
		// sub-benchmark's function runs more than once (b.N 1, then the
		// asked N) and its cleanups run after each.
		if configs[tc.fixture] == "" {
			configs[tc.fixture] = start1000(b, tc.fixture)
		}
		b.Run(tc.name, func(b *testing.B) {
			x := startExporter(b, "--config.file="+configs[tc.fixture])
			scrape1000(b, x, "/metrics"+tc.query)
		})
	}
}

// benchSmoke (ZK_BENCH_SMOKE=1, as make test sets it) shrinks the
// scale benchmarks to a few seconds: CI checks that they run and that
// their checks hold, make bench takes the figures.
var benchSmoke = os.Getenv("ZK_BENCH_SMOKE") == "1"

// benchEnsembles is how many ensembles of 5 fake members the scale
// benchmarks start: 200 (1,000 members), 4 in a smoke run.
func benchEnsembles() int {
	if benchSmoke {
		return 4
	}
	return 200
}

// benchInclude is a choice of passthrough keys such as a dashboard uses:
// the disk and request latencies and the sessions.
var benchInclude = url.Values{"passthrough.include": {"fsynctime", ".*_latency", ".*_sessions"}}.Encode()

// start1000 starts 200 ensembles of 5 fake members answering the replies
// of fixture (for 3.8.0/healthy: the first member the leader's, the
// others a follower's) for as long as the benchmark that asks, and
// returns the path of their configuration.
func start1000(b *testing.B, fixture string) string {
	replies := func(m int) map[string][]byte { return fixtureReplies(b, fixture) }
	if fixture == "3.8.0/healthy" {
		leader, follower := fixtureReplies(b, fixture+"/leader"), fixtureReplies(b, fixture+"/follower")
		replies = func(m int) map[string][]byte {
			if m == 0 {
				return leader
			}
			return follower
		}
	}
	var cfg strings.Builder
	cfg.WriteString("ensembles:\n")
	for e := 0; e < benchEnsembles(); e++ {
		fmt.Fprintf(&cfg, "  - name: e%03d\n    servers: [", e)
		for m := 0; m < 5; m++ {
			srv := fakezk.New(b)
			srv.SetAll(replies(m), fakezk.Answer)
			if m > 0 {
				cfg.WriteString(", ")
			}
			fmt.Fprintf(&cfg, "%q", srv.Addr())
		}
		cfg.WriteString("]\n")
	}
	path := filepath.Join(b.TempDir(), "zk.yml")
	os.WriteFile(path, []byte(cfg.String()), 0o600)
	return path
}

// scrape1000 scrapes path b.N times after one warm-up scrape and reports
// the figures of BenchmarkScrape1000Members. It fails loudly when a member
// is down: a scrape that is fast because members timed out proves nothing.
func scrape1000(b *testing.B, x *exporter, path string) {
	check := func(s scrape) int {
		up := s.families["zookeeper_up"].GetMetric()
		if len(up) != 5*benchEnsembles() {
			b.Fatalf("%d members in the scrape, want %d", len(up), 5*benchEnsembles())
		}
		for _, m := range up {
			if m.GetGauge().GetValue() != 1 {
				b.Fatalf("member %v is down: the figures would not measure 1,000 answering members", m.GetLabel())
			}
		}
		series := 0
		for name, f := range s.families {
			if strings.HasPrefix(name, "zookeeper_") {
				series += len(f.GetMetric())
			}
		}
		return series
	}
	check(x.scrape(path)) // warm up
	times := make(durations, 0, b.N)
	var size, series int
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := cpuTime(b, x.cmd.Process.Pid)
		s := x.scrape(path)
		times = append(times, s.took)
		// The exporter's own CPU during the scrape, not while this
		// process parses the answer: on a busy machine a steadier figure
		// than the wall time.
		cpu += cpuTime(b, x.cmd.Process.Pid) - before
		size = len(s.body)
		series = check(s)
	}
	b.StopTimer()
	b.ReportMetric(ms(cpu/time.Duration(b.N)), "cpu-ms/scrape")
	b.ReportMetric(ms(times.pct(0.5)), "ms-median")
	b.ReportMetric(ms(times.pct(0.99)), "ms-p99")
	b.ReportMetric(float64(procKiB(b, x.cmd.Process.Pid, "VmHWM:"))/1024, "MiB-peak-RSS")
	b.ReportMetric(float64(rssKiB(b, x.cmd.Process.Pid))/1024, "MiB-RSS")
	b.ReportMetric(float64(series), "series")
	b.ReportMetric(float64(size)/(1<<20), "MiB-exposition")
}

// BenchmarkProbe1000Members: the same 200 ensembles scraped one ensemble
// per /probe request at 15 requests a second for a minute, as a sharded
// Prometheus fleet scrapes them. Reported: the exporter's CPU as a
// fraction of one core, its peak RSS, the probes' median and p99. Every
// probe must answer with its 5 members up. Run with -benchtime 1x.
func BenchmarkProbe1000Members(b *testing.B) {
	path := start1000(b, "3.8.0/healthy")
	const rate = 15
	length := time.Minute
	if benchSmoke {
		length = 2 * time.Second
	}
	for b.Loop() {
		x := startExporter(b, "--config.file="+path)
		x.scrape("/probe?target=e000") // warm up
		var mu sync.Mutex
		var times durations
		var failed []string
		var wg sync.WaitGroup
		tick := time.NewTicker(time.Second / rate)
		cpuBefore := cpuTime(b, x.cmd.Process.Pid)
		start := time.Now()
		for i := 0; time.Since(start) < length; i++ {
			<-tick.C
			wg.Add(1)
			go func() {
				defer wg.Done()
				target := fmt.Sprintf("e%03d", i%benchEnsembles())
				began := time.Now()
				resp, err := http.Get(x.base + "/probe?target=" + target)
				if err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				took := time.Since(began)
				up := strings.Count(string(body), "\nzookeeper_up{")
				mu.Lock()
				defer mu.Unlock()
				times = append(times, took)
				if resp.StatusCode != 200 || up != 5 || !allUp(string(body)) {
					failed = append(failed, fmt.Sprintf("%s: status %d, %d members, all up: %v", target, resp.StatusCode, up, allUp(string(body))))
				}
			}()
		}
		tick.Stop()
		wg.Wait()
		elapsed := time.Since(start)
		cpu := cpuTime(b, x.cmd.Process.Pid) - cpuBefore
		if len(failed) > 0 {
			b.Fatalf("%d of %d probes failed, first: %s", len(failed), len(times), failed[0])
		}
		b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cpu-cores")
		b.ReportMetric(float64(procKiB(b, x.cmd.Process.Pid, "VmHWM:"))/1024, "MiB-peak-RSS")
		b.ReportMetric(ms(times.pct(0.5)), "ms-median")
		b.ReportMetric(ms(times.pct(0.99)), "ms-p99")
		b.ReportMetric(float64(len(times))/elapsed.Seconds(), "probes/s")
	}
}

// allUp says whether every zookeeper_up line of a text exposition is 1.
func allUp(body string) bool {
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "zookeeper_up{") && !strings.HasSuffix(line, "} 1") {
			return false
		}
	}
	return true
}

func fixtureReplies(b testing.TB, prefix string) map[string][]byte {
	replies := map[string][]byte{"ruok": []byte("imok")}
	for _, w := range []string{"srvr", "mntr", "conf"} {
		path := filepath.Join("fourletter", "testdata", prefix+"-"+w+".txt")
		if strings.HasPrefix(prefix, "3.4/") {
			path = filepath.Join("fourletter", "testdata", prefix, w+".txt")
		}
		body, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		replies[w] = body
	}
	return replies
}

// BenchmarkScrapeHandler4Members: a whole scrape through the HTTP handler
// (gzip, as Prometheus asks) of a 4-member 3.8 ensemble replayed by fake
// servers on loopback: polling, parsing, exposition, compression.
func BenchmarkScrapeHandler4Members(b *testing.B) {
	var members []config.Member
	for i, role := range []string{"leader", "follower", "follower", "observer"} {
		srv := fakezk.New(b)
		srv.SetAll(fixtureReplies(b, "3.8.0/healthy/"+role), fakezk.Answer)
		members = append(members, config.Member{Address: srv.Addr(), Observer: i == 3})
	}
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "bench", Servers: members, Timeout: config.Duration(2 * time.Second)}}}
	h := newHandler(b, cfg, false)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		req.Header.Set("Accept-Encoding", "gzip")
		rec := httptest.NewRecorder()
		h.ServeMetrics(rec, req)
		if rec.Code != 200 {
			b.Fatal(rec.Code)
		}
	}
}

// BenchmarkSoakRSS: the exporter's memory over 1,500 scrapes of a real 3+1
// ensemble after 200 warm-up scrapes (run once: -benchtime 1x). A figure to
// compare between runs on one machine, not a pass/fail threshold.
func BenchmarkSoakRSS(b *testing.B) {
	for b.Loop() {
		before, after, took := soakExporter(b, 200, 1500)
		b.ReportMetric(before["process_resident_memory_bytes"]/(1<<20), "MiB-RSS-before")
		b.ReportMetric(after["process_resident_memory_bytes"]/(1<<20), "MiB-RSS-after")
		b.ReportMetric((after["process_resident_memory_bytes"]-before["process_resident_memory_bytes"])/1024, "KiB-RSS-growth")
		b.ReportMetric(float64(took.Milliseconds())/1500, "ms/scrape")
	}
}

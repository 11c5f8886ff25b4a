package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

// The test binary doubles as the exporter: with this variable set it runs
// main's run() instead of the tests, so the end-to-end tests exercise the
// real flags, wiring and HTTP server without a separate build step.
const runMainEnv = "ZOOKEEPER_EXPORTER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		// ZOOKEEPER_EXPORTER_CPUPROFILE=path:seconds profiles the exporter
		// process for that long (docs/performance.md uses it).
		if spec := os.Getenv("ZOOKEEPER_EXPORTER_CPUPROFILE"); spec != "" {
			path, secs, _ := strings.Cut(spec, ":")
			n, _ := strconv.Atoi(secs)
			if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
				time.AfterFunc(time.Duration(n)*time.Second, func() { pprof.StopCPUProfile(); f.Close() })
			}
		}
		// ZOOKEEPER_EXPORTER_MEMPROFILE=path:seconds writes the exporter's
		// heap profile (allocations since start, and what is in use) then.
		if spec := os.Getenv("ZOOKEEPER_EXPORTER_MEMPROFILE"); spec != "" {
			path, secs, _ := strings.Cut(spec, ":")
			n, _ := strconv.Atoi(secs)
			time.AfterFunc(time.Duration(n)*time.Second, func() {
				if f, err := os.Create(path); err == nil {
					pprof.Lookup("allocs").WriteTo(f, 0)
					f.Close()
				}
			})
		}
		os.Exit(run(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// exporter is a running zookeeper_exporter process.
type exporter struct {
	t      testing.TB
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startExporter runs the exporter with args on a free loopback port and
// waits until it answers /-/ready.
func startExporter(t testing.TB, args ...string) *exporter {
	t.Helper()
	return startExporterWith(t, "http", http.DefaultClient, "", "", args...)
}

// startExporterWith starts the exporter and waits for /-/ready over scheme
// with client (and basic auth when user is set).
func startExporterWith(t testing.TB, scheme string, client *http.Client, user, pass string, args ...string) *exporter {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	// ZOOKEEPER_EXPORTER_BIN (make bench sets it) runs a built exporter
	// binary instead of this test binary, for figures of the binary users run.
	bin := os.Args[0]
	if b := os.Getenv("ZOOKEEPER_EXPORTER_BIN"); b != "" {
		bin = b
	}
	cmd := exec.Command(bin, append([]string{"--web.listen-address=" + addr}, args...)...)
	cmd.Env = append(os.Environ(), runMainEnv+"=1")
	x := &exporter{t: t, cmd: cmd, base: "http://" + addr, stderr: &syncBuffer{}}
	cmd.Stderr = x.stderr
	exited := startProcess(t, "exporter", cmd, x.stderr)
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest(http.MethodGet, scheme+"://"+addr+"/-/ready", nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return x
			}
		}
		select {
		case <-exited:
			t.Fatalf("exporter exited: %s", x.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("exporter not ready: %v\n%s", err, x.stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startProcess starts cmd, dying with the test binary, and kills it by
// PID when the test ends, showing its log if the test failed.
func startProcess(t testing.TB, name string, cmd *exec.Cmd, log *syncBuffer) <-chan struct{} {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL // a Credential set by the caller stays
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s log:\n%s", name, tailText(log.String(), 8000))
		}
	})
	return exited
}

func tailText(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// scrape is one parsed scrape.
type scrape struct {
	body     []byte
	families map[string]*dto.MetricFamily
	took     time.Duration
}

func (x *exporter) get(path string) (int, []byte) {
	x.t.Helper()
	resp, err := http.Get(x.base + path)
	if err != nil {
		x.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		x.t.Fatal(err)
	}
	return resp.StatusCode, body
}

func (x *exporter) scrape(path string) scrape {
	x.t.Helper()
	start := time.Now()
	code, body := x.get(path)
	took := time.Since(start)
	if code != http.StatusOK {
		x.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	s := parseText(x.t, string(body))
	s.took = took
	return s
}

// parseText parses a text exposition.
func parseText(t testing.TB, body string) scrape {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	return scrape{body: []byte(body), families: fams}
}

// value finds one series: labels as "k=v,k=v" (a subset of its labels).
func (s scrape) value(name, labels string) (float64, bool) {
	fam, ok := s.families[name]
	if !ok {
		return 0, false
	}
	want := map[string]string{}
	for _, kv := range strings.Split(labels, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			want[k] = v
		}
	}
	for _, m := range fam.Metric {
		match := 0
		for _, l := range m.Label {
			if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match != len(want) {
			continue
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Untyped != nil:
			return m.Untyped.GetValue(), true
		}
	}
	return 0, false
}

// expect checks exact values; each check is "name{labels} value".
func (s scrape) expect(t *testing.T, checks ...string) {
	t.Helper()
	for _, c := range checks {
		sel, wantText, _ := strings.Cut(c, " ")
		name, labels, _ := strings.Cut(strings.TrimSuffix(sel, "}"), "{")
		var want float64
		if _, err := fmt.Sscan(wantText, &want); err != nil {
			t.Fatalf("bad check %q", c)
		}
		got, ok := s.value(name, labels)
		if !ok {
			t.Errorf("%s: absent, want %v", sel, want)
		} else if got != want {
			t.Errorf("%s = %v, want %v", sel, got, want)
		}
	}
}

// absent checks that no series matches.
func (s scrape) absent(t *testing.T, selectors ...string) {
	t.Helper()
	for _, sel := range selectors {
		name, labels, _ := strings.Cut(strings.TrimSuffix(sel, "}"), "{")
		if v, ok := s.value(name, labels); ok {
			t.Errorf("%s = %v, want no series", sel, v)
		}
	}
}

// names lists the metric names of a scrape, sorted.
func (s scrape) names() []string {
	out := make([]string, 0, len(s.families))
	for n := range s.families {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// waitScrape scrapes until cond holds on a scrape, or fails after timeout.
func (x *exporter) waitScrape(t *testing.T, timeout time.Duration, what string, cond func(scrape) bool) scrape {
	t.Helper()
	return x.waitPathFor(t, timeout, "/metrics", what, cond)
}

// waitPath scrapes path (/probe...) until cond holds, for up to a minute.
func (x *exporter) waitPath(t *testing.T, path, what string, cond func(scrape) bool) scrape {
	t.Helper()
	return x.waitPathFor(t, time.Minute, path, what, cond)
}

func (x *exporter) waitPathFor(t *testing.T, timeout time.Duration, path, what string, cond func(scrape) bool) scrape {
	t.Helper()
	// timeout is what a quiet machine needs at most; the wait is only a
	// hang check, so it allows three times that: with both cores kept busy
	// by others, seven JVMs took more than a minute to elect and sync.
	timeout *= 3
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		s := x.scrape(path)
		if cond(s) {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func TestFlagsAndConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/good.yml"
	bad := dir + "/bad.yml"
	os.WriteFile(good, []byte("ensembles:\n  - name: a\n    servers: [\"127.0.0.1:2181\", \"127.0.0.1:2182:observer\"]\n"), 0o600)
	os.WriteFile(bad, []byte("ensembles:\n  - name: a\n    servers: [zk1]\n    timeot: 3s\n"), 0o600)
	for _, tc := range []struct {
		args   []string
		code   int
		output string
	}{
		{[]string{"--config.file=" + good, "--config.check"}, 0, "Configuration is valid"},
		{[]string{"--config.file=" + bad, "--config.check"}, 1, "line 4: field timeot not found"},
		{[]string{"--config.file=" + dir + "/missing.yml", "--config.check"}, 1, "no such file"},
		{[]string{"--zookeeper.servers=zk1:notaport", "--config.check"}, 1, "--zookeeper.servers"},
		{[]string{"--zookeeper.timeout=soon"}, 1, "zookeeper.timeout"},
		{[]string{"--no-such-flag"}, 1, "unknown long flag"},
	} {
		cmd := exec.Command(os.Args[0], tc.args...)
		cmd.Env = append(os.Environ(), runMainEnv+"=1")
		out, _ := cmd.CombinedOutput()
		if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(string(out), tc.output) {
			t.Errorf("%v: exit %d, output %q; want %d and %q", tc.args, code, out, tc.code, tc.output)
		}
	}
}

func TestEndpointsAndReload(t *testing.T) {
	a, b := fakezk.New(t), fakezk.New(t)
	for _, s := range []*fakezk.Server{a, b} {
		s.Set("srvr", []byte("Zookeeper version: 3.8.0\nMode: standalone\nZxid: 0x5\n"), fakezk.Answer)
	}
	path := t.TempDir() + "/zk.yml"
	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ensembles:\n  - name: first\n    servers: [\"" + a.Addr() + "\"]\n")
	x := startExporter(t, "--config.file="+path, "--web.enable-lifecycle")

	for path, want := range map[string]string{"/": "ZooKeeper Exporter", "/-/healthy": "Healthy", "/-/ready": "Ready"} {
		if code, body := x.get(path); code != 200 || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: %d %q", path, code, body)
		}
	}
	s := x.scrape("/metrics")
	s.expect(t, "zookeeper_up{ensemble=first,server="+a.Addr()+"} 1", "zookeeper_exporter_config_last_reload_successful 1",
		"zookeeper_exporter_build_info{goversion="+runtime.Version()+"} 1")

	post := func() int {
		resp, err := http.Post(x.base+"/-/reload", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	write("ensembles:\n  - name: second\n    servers: [\"" + b.Addr() + "\"]\n")
	if code := post(); code != 200 {
		t.Fatalf("reload of a good file: %d", code)
	}
	s = x.scrape("/metrics")
	s.expect(t, "zookeeper_up{ensemble=second,server="+b.Addr()+"} 1")
	s.absent(t, "zookeeper_up{ensemble=first}")

	write("ensembles:\n  - name: third\n    servers: [\"" + a.Addr() + "\"]\n    bogus: true\n")
	if code := post(); code != 500 {
		t.Errorf("reload of a bad file: %d, want 500", code)
	}
	s = x.scrape("/metrics")
	s.expect(t, "zookeeper_up{ensemble=second,server="+b.Addr()+"} 1", "zookeeper_exporter_config_last_reload_successful 0")

	// A secret in the wrong key of a broken file: the reload fails and the
	// value shows nowhere, neither in the answer, the log, nor the pages.
	write("ensembles:\n  - name: third\n    servers: [\"" + a.Addr() + "\"]\n    tls: {insecure_skip_verify: hunter2-secret-value}\n")
	resp, err := http.Post(x.base+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	_, landing := x.get("/")
	_, metrics := x.get("/metrics")
	for what, text := range map[string]string{"reload answer": string(answer), "log": x.stderr.String(), "landing page": string(landing), "metrics": string(metrics)} {
		if strings.Contains(text, "hunter2") {
			t.Errorf("the secret shows in the %s", what)
		}
	}
	if resp.StatusCode != 500 || strings.Contains(string(answer), path) || strings.Contains(string(answer), "line") {
		t.Errorf("reload answer %d %q: want 500 without the file's path or content", resp.StatusCode, answer)
	}
	if !strings.Contains(x.stderr.String(), "line 4") {
		t.Errorf("the log does not say why the reload failed (line 4)")
	}
	if _, landing := x.get("/"); strings.Contains(string(landing), "debug/pprof") || strings.Contains(string(landing), "target=first") {
		t.Errorf("landing page links pprof (not served) or an ensemble: %s", landing)
	}

	write("ensembles:\n  - name: fourth\n    servers: [\"" + a.Addr() + "\"]\n")
	x.cmd.Process.Signal(syscall.SIGHUP)
	x.waitScrape(t, 5*time.Second, "SIGHUP reload", func(s scrape) bool {
		v, _ := s.value("zookeeper_up", "ensemble=fourth")
		ok, _ := s.value("zookeeper_exporter_config_last_reload_successful", "")
		return v == 1 && ok == 1
	})
	if code, _ := x.get("/probe?target=fourth"); code != 200 {
		t.Errorf("/probe of a reloaded ensemble: %d", code)
	}
	if code, _ := x.get("/probe?target=second"); code != 400 {
		t.Errorf("/probe of an ensemble no longer configured: %d, want 400", code)
	}
}

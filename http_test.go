package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-kit/log"

	"github.com/zookeeper-exporter/zookeeper_exporter/config"
	"github.com/zookeeper-exporter/zookeeper_exporter/ensemble"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

// TestReloadHandler: /-/reload (with --web.enable-lifecycle) refuses a
// browser's cross-origin post, and a failed reload's answer shows neither
// the file's path nor a value from it.
func TestReloadHandler(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zk.yml")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	good := "ensembles:\n  - name: a\n    servers: [zk1]\n"
	write(good)
	src, err := config.NewFile(path, config.Defaults{Timeout: time.Second}, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	h := reloadHandler(src)
	for _, tc := range []struct {
		name    string
		file    string
		headers map[string]string
		code    int
	}{
		{name: "curl", file: good, code: 200},
		{name: "same origin", file: good, headers: map[string]string{"Origin": "http://exporter:9141", "Sec-Fetch-Site": "same-origin"}, code: 200},
		{name: "cross-site form", file: good, headers: map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, code: 403},
		{name: "cross origin, old browser", file: good, headers: map[string]string{"Origin": "http://evil.example"}, code: 403},
		{name: "bad file", file: "ensembles:\n  - name: a\n    servers: [zk1]\n    timeout: s3cr3t-value\n", code: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			write(tc.file)
			req := httptest.NewRequest(http.MethodPost, "http://exporter:9141/-/reload", strings.NewReader("a=b"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			body := rec.Body.String()
			if rec.Code != tc.code {
				t.Errorf("answer %d %q, want %d", rec.Code, body, tc.code)
			}
			for _, secret := range []string{path, filepath.Dir(path), "s3cr3t", "line"} {
				if strings.Contains(body, secret) {
					t.Errorf("answer %q shows %q", body, secret)
				}
			}
		})
	}
}

// TestMaxWait: a scrape without Prometheus' timeout header waits no longer
// than MaxWait (derived from the configuration at start, below the write
// timeout), even for an ensemble whose member deadline is longer: the
// answer comes, with the hung member down, instead of a connection cut by
// the server's write timeout.
func TestMaxWait(t *testing.T) {
	srv := fakezk.New(t)
	for _, w := range []string{"srvr", "mntr", "conf", "ruok"} {
		srv.Set(w, nil, fakezk.Stall)
	}
	cfg := &config.Config{Ensembles: []config.Ensemble{{Name: "e", Servers: []config.Member{{Address: srv.Addr()}}, Timeout: config.Duration(time.Minute)}}}
	h := newHandler(t, cfg, false)
	h.MaxWait = 300 * time.Millisecond
	rec := httptest.NewRecorder()
	start := time.Now()
	h.ServeMetrics(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	// A hang check: the member deadline is a minute.
	if took := time.Since(start); took > 30*time.Second {
		t.Errorf("scrape took %v with MaxWait 300ms", took)
	}
	if !strings.Contains(rec.Body.String(), `zookeeper_member_down_reason{ensemble="e",reason="timeout",server="`+srv.Addr()+`"} 1`) {
		t.Errorf("hung member not down with reason timeout: %s", truncateText(rec.Body.String()))
	}

	for _, tc := range []struct {
		flag     time.Duration
		timeouts []time.Duration
		want     time.Duration
	}{
		{2 * time.Second, nil, 4 * time.Second},
		{2 * time.Second, []time.Duration{time.Second, 10 * time.Second}, 20 * time.Second},
		{5 * time.Second, []time.Duration{3 * time.Second}, 10 * time.Second},
	} {
		cfg := &config.Config{}
		for _, d := range tc.timeouts {
			cfg.Ensembles = append(cfg.Ensembles, config.Ensemble{Timeout: config.Duration(d)})
		}
		got := maxWait(cfg, tc.flag)
		if got != tc.want {
			t.Errorf("maxWait(flag %v, ensembles %v) = %v, want %v", tc.flag, tc.timeouts, got, tc.want)
		}
		if s := newServer(nil, got, log.NewNopLogger()); s.WriteTimeout <= got {
			t.Errorf("write timeout %v not above the longest wait %v", s.WriteTimeout, got)
		}
	}
}

// TestServerErrorLog: net/http's own errors (accept failures when file
// descriptors run out, TLS handshakes) go to the exporter's log, in its
// format, not to the standard logger's.
func TestServerErrorLog(t *testing.T) {
	var buf bytes.Buffer
	s := newServer(nil, time.Second, log.With(log.NewLogfmtLogger(log.NewSyncWriter(&buf)), "time", log.DefaultTimestampUTC))
	s.ErrorLog.Printf("http: Accept error: %v; retrying in %v", "accept tcp 127.0.0.1:9141: accept4: too many open files", 5*time.Millisecond)
	line := buf.String()
	for _, want := range []string{"level=warn", "time=", `msg="HTTP server" err="http: Accept error: accept tcp 127.0.0.1:9141: accept4: too many open files; retrying in 5ms"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log line %q lacks %q", line, want)
		}
	}
	if s.ReadHeaderTimeout <= 0 || s.ReadTimeout <= 0 || s.WriteTimeout <= 0 || s.IdleTimeout <= 0 {
		t.Errorf("a phase of the connection is unbounded: %+v", s)
	}
}

// TestStartupMessages: what a new user meets when something is wrong at
// start: one error line (nothing is "kept in force" yet), the key of a YAML
// type error, the flag of a bad enum value, --zookeeper.servers refused with
// --config.file; and every log line, the exporter's and exporter-toolkit's,
// with the same timestamp key.
func TestStartupMessages(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yml")
	os.WriteFile(bad, []byte("ensembles:\n  - name: a\n    servers: [zk1]\n    discover: perhaps\n"), 0o600)
	good := filepath.Join(dir, "good.yml")
	os.WriteFile(good, []byte("ensembles:\n  - name: a\n    servers: [zk1]\n"), 0o600)
	for _, tc := range []struct {
		name    string
		args    []string
		want    []string
		notWant []string
	}{
		{"bad file at start", []string{"--config.file=" + bad}, []string{"line 4: discover: cannot unmarshal"}, []string{"keeping the one in force", "perhaps"}},
		{"enum flag", []string{"--log.level=verbose"}, []string{"--log.level", "debug, info, warn, error"}, nil},
		{"enum flag of status", []string{"status", "--output=xml"}, []string{"--output"}, nil},
		{"servers with a file", []string{"--config.file=" + good, "--zookeeper.servers=zk9:2181"}, []string{"--zookeeper.servers", "--config.file"}, nil},
		{"negative discovery cap", []string{"--zookeeper.discover.max-members=-1", "--config.check"}, []string{"discover_max_members -1"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], tc.args...)
			cmd.Env = append(os.Environ(), runMainEnv+"=1")
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != 1 {
				t.Errorf("exit %d, want 1; output %q", code, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("output %q lacks %q", out, w)
				}
			}
			for _, w := range tc.notWant {
				if strings.Contains(string(out), w) {
					t.Errorf("output %q says %q", out, w)
				}
			}
			if n := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; n != 1 {
				t.Errorf("%d lines for one error, want 1:\n%s", n, out)
			}
		})
	}

	t.Run("one timestamp key", func(t *testing.T) {
		x := startExporter(t, "--zookeeper.servers=127.0.0.1:1")
		lines := strings.Split(strings.TrimSpace(x.stderr.String()), "\n")
		toolkit := 0
		for _, l := range lines {
			if !strings.Contains(l, " time=") || strings.Contains(l, " ts=") || !strings.HasPrefix(l, "level=") {
				t.Errorf("log line without the one timestamp key: %q", l)
			}
			if strings.Contains(l, "tls_config.go") {
				toolkit++
			}
		}
		if toolkit == 0 {
			t.Errorf("no exporter-toolkit line to compare with:\n%s", x.stderr.String())
		}
	})
}

// TestNoSlotOneLinePerScrape: when poll slots run short, a scrape says so
// in one line, whatever the number of members and ensembles left unpolled.
func TestNoSlotOneLinePerScrape(t *testing.T) {
	var ensembles []config.Ensemble
	for _, name := range []string{"a", "b", "c"} {
		hung := fakezk.New(t)
		for _, w := range []string{"srvr", "mntr", "conf", "ruok"} {
			hung.Set(w, nil, fakezk.Stall)
		}
		e := config.Ensemble{Name: name, Servers: []config.Member{{Address: hung.Addr()}}, Timeout: config.Duration(500 * time.Millisecond)}
		for range 3 {
			srv := fakezk.New(t)
			srv.Set("srvr", []byte("Zookeeper version: 3.8.0\nMode: follower\nZxid: 0x100000005\n"), fakezk.Answer)
			e.Servers = append(e.Servers, config.Member{Address: srv.Addr()})
		}
		ensembles = append(ensembles, e)
	}
	h := newHandler(t, &config.Config{Ensembles: ensembles}, false)
	var logs syncBuffer
	h.Logger = log.NewLogfmtLogger(log.NewSyncWriter(&logs))
	// One slot: a hung member holds it to its deadline, and the members
	// queued behind it find none.
	h.Poller = ensemble.NewPoller(h.Logger, 1)
	const scrapes = 3
	for range scrapes {
		rec := httptest.NewRecorder()
		h.ServeMetrics(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != 200 {
			t.Fatalf("scrape: %d", rec.Code)
		}
	}
	if n := strings.Count(logs.String(), "no free poll slot"); n != scrapes {
		t.Errorf("%d lines about poll slots for %d scrapes, want one each:\n%s", n, scrapes, logs.String())
	}
}

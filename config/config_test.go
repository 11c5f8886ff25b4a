package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-kit/log"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestParseServers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Member
		err  string
	}{
		{in: "localhost:2181", want: []Member{{Address: "localhost:2181"}}},
		{in: "zk1,zk2:2182, zk3:2183:observer", want: []Member{{Address: "zk1:2181"}, {Address: "zk2:2182"}, {Address: "zk3:2183", Observer: true}}},
		// Apigee Edge's ZK_HOSTS: space separated, observers marked.
		{in: "10.0.0.1 10.0.0.2 10.0.0.3:observer", want: []Member{{Address: "10.0.0.1:2181"}, {Address: "10.0.0.2:2181"}, {Address: "10.0.0.3:2181", Observer: true}}},
		{in: "[::1]:2181,[::1]:2182:observer,[fe80::1]", want: []Member{{Address: "[::1]:2181"}, {Address: "[::1]:2182", Observer: true}, {Address: "[fe80::1]:2181"}}},
		{in: "zk1:2181:participant", want: []Member{{Address: "zk1:2181"}}},
		{in: "", err: "no server"},
		{in: "zk1:99999", err: "port"},
		{in: "zk1:abc", err: "port"},
		{in: ":2181", err: "empty host"},
		{in: "::1:2181", err: "bracket IPv6"},
		{in: "[::1:2181", err: "unclosed"},
		{in: "zk1,zk1:2181", err: "listed twice"},
		{in: "zk1:2181:voter", err: "bracket IPv6"},
	} {
		got, err := ParseServers(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseServers(%q) err = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseServers(%q) = %+v, %v", tc.in, got, err)
		}
	}
}

func TestDecode(t *testing.T) {
	d := Defaults{Timeout: 2 * time.Second}
	cfg, err := Decode(strings.NewReader(`
ensembles:
  - name: edge-dc1
    servers: ["zk1:2181", "zk2:2181", "zk3:2181", "zk9:2181:observer"]
    timeout: 3s
  - name: kafka
    servers: [kafka-zk]
`), d)
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Ensembles[0]
	if e.Name != "edge-dc1" || e.Voters() != 3 || e.Observers() != 1 || time.Duration(e.Timeout) != 3*time.Second {
		t.Errorf("ensemble 0: %+v", e)
	}
	if cfg.Ensembles[1].Servers[0].Address != "kafka-zk:2181" || time.Duration(cfg.Ensembles[1].Timeout) != 2*time.Second {
		t.Errorf("defaults not applied: %+v", cfg.Ensembles[1])
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"unknown key", "ensembles:\n  - name: a\n    servers: [zk1]\n    tiemout: 3s\n", "line 4: field tiemout not found"},
		{"unknown top key", "ensemble:\n  - name: a\n", "line 1: field ensemble not found"},
		{"bad server", "ensembles:\n  - name: a\n    servers: [\"zk1:http\"]\n", "line 3: servers: server \"zk1:http\": port"},
		{"bad timeout", "ensembles:\n  - name: a\n    servers: [zk1]\n    timeout: soon\n", "line 4: timeout \"soon\""},
		{"no name", "ensembles:\n  - servers: [zk1]\n", "line 2: ensembles[0]: name is required"},
		{"duplicate name", "ensembles:\n  - name: a\n    servers: [zk1]\n  - name: a\n    servers: [zk2]\n", "line 4: ensembles[1]: name \"a\" is already used"},
		{"no servers", "ensembles:\n  - name: a\n", "servers is required"},
		{"duplicate server", "ensembles:\n  - name: a\n    servers: [zk1, \"zk1:2181\"]\n", "listed twice"},
		{"empty", "", "empty file"},
		{"no ensembles", "ensembles: []\n", "no ensemble"},
		{"two documents", "ensembles:\n  - name: a\n    servers: [zk1]\n---\nfoo: 1\n", "more than one"},
		{"not yaml", "ensembles: [\n", "line"},
		{"missing ca", "ensembles:\n  - name: a\n    servers: [zk1]\n    tls: {ca_file: /nonexistent/ca.pem}\n", "ca_file"},
		{"cert without key", "ensembles:\n  - name: a\n    servers: [zk1]\n    tls: {cert_file: c.pem}\n", "go together"},
		{"wrong type, value hidden", "ensembles:\n  - name: a\n    servers: [zk1]\n    tls: {insecure_skip_verify: hunter2-secret}\n", "line 4: insecure_skip_verify: cannot unmarshal !!str value into bool"},
		{"wrong type, block style", "ensembles:\n  - name: a\n    servers: [zk1]\n    discover: maybe\n", "line 4: discover: cannot unmarshal"},
		{"bad include pattern", "ensembles:\n  - name: a\n    servers: [zk1]\n    passthrough: {include: [\"fsync.*\", \"[\"]}\n", "line 2: ensembles[0] (a): passthrough.include[1] \"[\": error parsing regexp"},
		{"bad exclude pattern", "ensembles:\n  - name: a\n    servers: [zk1]\n    passthrough:\n      exclude: [\"(\"]\n", "passthrough.exclude[0] \"(\""},
		{"unknown passthrough key", "ensembles:\n  - name: a\n    servers: [zk1]\n    passthrough: {inclde: [x]}\n", "line 4: field inclde not found"},
		{"passthrough not a bool", "ensembles:\n  - name: a\n    servers: [zk1]\n    passthrough: {enabled: sometimes}\n", "enabled: cannot unmarshal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tc.in), Defaults{Timeout: time.Second})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "hunter2") {
				t.Errorf("err shows a value: %v", err)
			}
		})
	}
}

// TestDecodePassthrough: the choice of what an ensemble exposes, per
// ensemble; patterns anchored at both ends.
func TestDecodePassthrough(t *testing.T) {
	cfg, err := Decode(strings.NewReader(`
ensembles:
  - name: all
    servers: [zk1]
  - name: curated
    servers: [zk2]
    passthrough: {enabled: false}
  - name: some
    servers: [zk3]
    passthrough:
      include: ["fsynctime", ".*_latency"]
      exclude: ["local_.*"]
`), Defaults{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ensemble string
		off      bool
		keep     map[string]bool
	}{
		{ensemble: "all", keep: map[string]bool{"fsynctime": true, "anything": true}},
		{ensemble: "curated", off: true},
		{ensemble: "some", keep: map[string]bool{"fsynctime": true, "read_latency": true, "local_latency": false,
			"fsynctime_extra": false, "x_fsynctime": false, "global_sessions": false}},
	} {
		var e Ensemble
		for _, c := range cfg.Ensembles {
			if c.Name == tc.ensemble {
				e = c
			}
		}
		if e.Passthrough.Off() != tc.off {
			t.Errorf("%s: off = %v", tc.ensemble, e.Passthrough.Off())
		}
		for key, want := range tc.keep {
			if got := e.Passthrough.Filter().Keep(key); got != want {
				t.Errorf("%s: Keep(%q) = %v, want %v", tc.ensemble, key, got, want)
			}
		}
	}
}

func TestLoadNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zk.yml")
	os.WriteFile(path, []byte("ensembles:\n  - name: a\n    bogus: 1\n"), 0o600)
	_, err := Load(path, Defaults{})
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("err = %v: want file, line and key", err)
	}
}

func TestReloadKeepsOldConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "zk.yml")
	os.WriteFile(path, []byte("ensembles:\n  - name: a\n    servers: [zk1]\n"), 0o600)
	src, err := NewFile(path, Defaults{Timeout: time.Second}, log.NewNopLogger())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte("ensembles:\n  - name: b\n    servers: [zk2]\n"), 0o600)
	if err := src.Reload(); err != nil || src.Get().Ensembles[0].Name != "b" {
		t.Fatalf("good reload: %v", err)
	}
	os.WriteFile(path, []byte("ensembles:\n  - name: c\n    nope: [zk3]\n"), 0o600)
	if err := src.Reload(); err == nil {
		t.Fatal("bad file reloaded")
	}
	if src.Get().Ensembles[0].Name != "b" {
		t.Error("bad reload replaced the config in force")
	}
	if got := testutil.ToFloat64(src.reloadOK); got != 0 {
		t.Errorf("reload_successful = %v after a bad reload", got)
	}
	os.WriteFile(path, []byte("ensembles:\n  - name: d\n    servers: [zk4]\n"), 0o600)
	src.Reload()
	if got := testutil.ToFloat64(src.reloadOK); got != 1 {
		t.Errorf("reload_successful = %v after a good reload", got)
	}
}

// The shipped example must stay valid (TLS files aside: they name paths on
// the target host).
func TestExampleConfig(t *testing.T) {
	data, err := os.ReadFile("../deploy/zookeeper_exporter.yml")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Replace(string(data), "    tls:\n      ca_file: /etc/zookeeper_exporter/zk-ca.pem\n", "    tls:\n", 1)
	cfg, err := Decode(strings.NewReader(text), Defaults{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Ensembles) != 3 || cfg.Ensembles[1].Observers() != 1 || cfg.Ensembles[2].ClientTLS() == nil {
		t.Errorf("example config decoded as %+v", cfg)
	}
}

// TestLoadOnlyRegularBoundedFiles: a link to /dev/zero must not fill the
// memory, a FIFO must not hang the reload, a huge file is refused.
func TestLoadOnlyRegularBoundedFiles(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero.yml")
	if err := os.Symlink("/dev/zero", zero); err != nil {
		t.Fatal(err)
	}
	fifo := filepath.Join(dir, "fifo.yml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yml")
	os.WriteFile(big, append([]byte("ensembles:\n  - name: a\n    servers: [zk1]\n#"), bytes.Repeat([]byte("x"), MaxFileBytes)...), 0o600)
	sub := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]string{zero: "not a regular file", fifo: "not a regular file", big: "larger than", sub: "not a regular file"} {
		done := make(chan error, 1)
		go func() { _, err := Load(path, Defaults{Timeout: time.Second}); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%s: err = %v, want %q", filepath.Base(path), err, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: Load hangs", filepath.Base(path))
		}
	}
}

// TestClientProbeSettings: the probe's settings, their defaults from the
// flags, and the digest credentials read from their file (never shown in
// an error).
func TestClientProbeSettings(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "digest")
	os.WriteFile(good, []byte("exporter:s3cret\n"), 0o600)
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("hunter2\n"), 0o600)
	d := Defaults{Timeout: 2 * time.Second, Vantage: "dc1", CanaryZnode: "/flag-canary"}
	for _, tc := range []struct {
		name, in string
		check    func(Ensemble) bool
		err      string
	}{
		{"off by default", "servers: [zk1]", func(e Ensemble) bool {
			return !e.ClientProbe && e.CanaryZnode == "" && e.Vantage == "dc1" && e.ClientProbeZnode == DefaultClientProbeZnode
		}, ""},
		{"on, flag canary and defaults", "servers: [zk1]\n    client_probe: true", func(e Ensemble) bool {
			return e.ClientProbe && e.CanaryZnode == "/flag-canary" && time.Duration(e.ClientProbeInterval) == DefaultClientProbeInterval && e.Digest() == nil
		}, ""},
		{"own settings", "servers: [zk1]\n    client_probe: true\n    client_probe_znode: /app\n    client_probe_interval: 30s\n    canary_znode: /app/canary\n    vantage: dc2\n    digest_credentials_file: " + good, func(e Ensemble) bool {
			return e.ClientProbeZnode == "/app" && e.CanaryZnode == "/app/canary" && e.Vantage == "dc2" &&
				time.Duration(e.ClientProbeInterval) == 30*time.Second && string(e.Digest()) == "exporter:s3cret"
		}, ""},
		{"relative znode", "servers: [zk1]\n    client_probe: true\n    client_probe_znode: app", nil, "client_probe_znode \"app\""},
		{"canary in /zookeeper", "servers: [zk1]\n    client_probe: true\n    canary_znode: /zookeeper/quota", nil, "belong to ZooKeeper"},
		{"canary without probe", "servers: [zk1]\n    canary_znode: /c", nil, "needs client_probe"},
		{"malformed digest file", "servers: [zk1]\n    client_probe: true\n    digest_credentials_file: " + bad, nil, "want one line user:password"},
		{"missing digest file", "servers: [zk1]\n    client_probe: true\n    digest_credentials_file: " + filepath.Join(dir, "none"), nil, "digest_credentials_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Decode(strings.NewReader("ensembles:\n  - name: a\n    "+tc.in+"\n"), d)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "hunter2") {
					t.Fatalf("err = %v, want %q (and no secret)", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(cfg.Ensembles[0]) {
				t.Errorf("%+v", cfg.Ensembles[0])
			}
		})
	}
}

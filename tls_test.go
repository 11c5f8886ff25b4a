package main

import (
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/zookeeper-exporter/zookeeper_exporter/internal/testcerts"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/zkensemble"
)

// TestTLSToRealZooKeeper polls a real ZooKeeper's secure client port
// (Netty, PEM stores, client certificates required) with a CA made here:
// verified by default, by IP or by server name, with a client certificate;
// a wrong CA, a wrong name or a missing client certificate is a clear
// zookeeper_up 0 with reason "tls" and an error in the log.
func TestTLSToRealZooKeeper(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "zk-ca")
	other := testcerts.NewCA(t, dir, "other-ca")
	server := ca.Issue(t, dir, "zk-server", "127.0.0.1", "zookeeper.test")
	client := ca.Issue(t, dir, "exporter-client", "zookeeper-exporter")
	stranger := other.Issue(t, dir, "stranger-client", "stranger")
	e := zkensemble.Start(t, zkensemble.Options{Voters: 1,
		TLS: &zkensemble.TLS{KeyStore: server.BundleFile, TrustStore: ca.File, ClientAuth: "need"}})
	m := e.Members[0]
	secure := m.SecureAddr()

	for _, tc := range []struct {
		name   string
		args   []string
		up     bool
		reason string
	}{
		{"verified by IP, client certificate", []string{"--zookeeper.tls.ca-file=" + ca.File, "--zookeeper.tls.cert-file=" + client.CertFile, "--zookeeper.tls.key-file=" + client.KeyFile}, true, ""},
		{"verified by server name", []string{"--zookeeper.tls.ca-file=" + ca.File, "--zookeeper.tls.server-name=zookeeper.test", "--zookeeper.tls.cert-file=" + client.CertFile, "--zookeeper.tls.key-file=" + client.KeyFile}, true, ""},
		{"wrong CA", []string{"--zookeeper.tls.ca-file=" + other.File, "--zookeeper.tls.cert-file=" + client.CertFile, "--zookeeper.tls.key-file=" + client.KeyFile}, false, "tls"},
		{"wrong server name", []string{"--zookeeper.tls.ca-file=" + ca.File, "--zookeeper.tls.server-name=other.test", "--zookeeper.tls.cert-file=" + client.CertFile, "--zookeeper.tls.key-file=" + client.KeyFile}, false, "tls"},
		{"no client certificate", []string{"--zookeeper.tls.ca-file=" + ca.File}, false, "tls"},
		{"client certificate from another CA", []string{"--zookeeper.tls.ca-file=" + ca.File, "--zookeeper.tls.cert-file=" + stranger.CertFile, "--zookeeper.tls.key-file=" + stranger.KeyFile}, false, "tls"},
		{"system CAs only (verification on by default)", []string{"--zookeeper.tls.server-name=zookeeper.test"}, false, "tls"},
		{"skip verify, explicitly", []string{"--zookeeper.tls.insecure-skip-verify", "--zookeeper.tls.cert-file=" + client.CertFile, "--zookeeper.tls.key-file=" + client.KeyFile}, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The client probe takes the same TLS settings: a session over
			// the secure client port, or the same refusal.
			x := startExporter(t, append([]string{"--zookeeper.servers=" + secure, "--zookeeper.timeout=3s", "--zookeeper.client-probe"}, tc.args...)...)
			s := x.scrape("/metrics")
			if tc.up {
				s.expect(t, "zookeeper_up{server="+secure+"} 1", "zookeeper_serving{server="+secure+"} 1",
					"zookeeper_server_state{server="+secure+",state=standalone} 1", "zookeeper_client_probe_success{server="+secure+"} 1")
				return
			}
			s.expect(t, "zookeeper_up{server="+secure+"} 0", "zookeeper_client_probe_success{server="+secure+"} 0",
				"zookeeper_client_probe_failure_reason{server="+secure+",reason=other} 1")
			for _, r := range []string{"tls", "reset", "empty", "timeout", "other"} {
				if v, ok := s.value("zookeeper_member_down_reason", "server="+secure+",reason="+r); ok && v == 1 {
					t.Logf("%s: zookeeper_up 0, down reason %q", tc.name, r)
				}
			}
			if tc.reason != "" {
				s.expect(t, "zookeeper_member_down_reason{server="+secure+",reason="+tc.reason+"} 1")
				time.Sleep(100 * time.Millisecond)
				if log := x.stderr.String(); !strings.Contains(log, "level=error") || !strings.Contains(log, "TLS handshake with member failed") || !strings.Contains(log, "certificate") {
					t.Errorf("no clear error in the log:\n%s", log)
				}
			}
		})
	}
	t.Run("plain TCP to the secure port", func(t *testing.T) {
		x := startExporter(t, "--zookeeper.servers="+secure, "--zookeeper.timeout=2s")
		x.scrape("/metrics").expect(t, "zookeeper_up{server="+secure+"} 0")
	})
}

// TestExporterHTTPS serves the exporter's own endpoint over real HTTPS
// with basic auth (--web.config.file, exporter-toolkit).
func TestExporterHTTPS(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "web-ca")
	cert := ca.Issue(t, dir, "exporter", "127.0.0.1")
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret-pass"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	os.WriteFile(webCfg, []byte("tls_server_config:\n  cert_file: "+cert.CertFile+"\n  key_file: "+cert.KeyFile+
		"\nbasic_auth_users:\n  prometheus: "+string(hash)+"\n"), 0o600)
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	x := startExporterWith(t, "https", client, "prometheus", "s3cret-pass", "--web.config.file="+webCfg, "--zookeeper.servers=127.0.0.1:1")

	get := func(c *http.Client, url, user, pass string) int {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := c.Do(req)
		if err != nil {
			return -1
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	https := strings.Replace(x.base, "http://", "https://", 1)
	for _, tc := range []struct {
		name       string
		url        string
		user, pass string
		want       int
	}{
		{"right password", https + "/metrics", "prometheus", "s3cret-pass", 200},
		{"no password", https + "/metrics", "", "", 401},
		{"wrong password", https + "/metrics", "prometheus", "nope", 401},
		{"probe needs auth too", https + "/probe?target=default", "", "", 401},
		{"plain HTTP", x.base + "/metrics", "prometheus", "s3cret-pass", 400},
	} {
		if got := get(client, tc.url, tc.user, tc.pass); got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
	}
	// A client that does not trust the exporter's CA refuses the connection.
	if got := get(&http.Client{Timeout: 5 * time.Second}, https+"/metrics", "prometheus", "s3cret-pass"); got != -1 {
		t.Errorf("untrusted certificate accepted: %d", got)
	}
}

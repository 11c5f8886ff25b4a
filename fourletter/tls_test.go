package fourletter_test

import (
	"context"
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/testcerts"
)

func TestDoTLS(t *testing.T) {
	dir := t.TempDir()
	ca := testcerts.NewCA(t, dir, "ca")
	pool := ca.Pool()
	srv := fakezk.NewTLS(t, &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, dir, "zk", "127.0.0.1", "zookeeper.test").TLS}})
	srv.Set("srvr", []byte("Mode: leader\n"), fakezk.Answer)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	body, err := (&fourletter.Client{TLS: &tls.Config{RootCAs: pool}}).Do(ctx, srv.Addr(), "srvr")
	if err != nil || string(body) != "Mode: leader\n" {
		t.Fatalf("verified TLS: %q, %v", body, err)
	}
	body, err = (&fourletter.Client{TLS: &tls.Config{RootCAs: pool, ServerName: "zookeeper.test"}}).Do(ctx, srv.Addr(), "srvr")
	if err != nil || string(body) != "Mode: leader\n" {
		t.Fatalf("TLS with server name: %q, %v", body, err)
	}
	// Verification is on by default: the system's CAs do not know this one.
	if _, err := (&fourletter.Client{TLS: &tls.Config{}}).Do(ctx, srv.Addr(), "srvr"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("unknown CA accepted: %v", err)
	}
	if _, err := (&fourletter.Client{TLS: &tls.Config{RootCAs: pool, ServerName: "other.test"}}).Do(ctx, srv.Addr(), "srvr"); err == nil {
		t.Error("wrong server name accepted")
	}
	// Plain TCP to a TLS port gets nothing usable.
	if body, err := (&fourletter.Client{}).Do(ctx, srv.Addr(), "srvr"); err == nil {
		t.Errorf("plain TCP to a TLS port: %q", body)
	}
}

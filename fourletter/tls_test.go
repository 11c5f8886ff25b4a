package fourletter_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/zookeeper-exporter/zookeeper_exporter/fourletter"
	"github.com/zookeeper-exporter/zookeeper_exporter/internal/fakezk"
)

// selfSigned makes a CA-signed server certificate for 127.0.0.1 and
// "zookeeper.test", and returns it with the CA pool that verifies it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zookeeper.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:    []string{"zookeeper.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestDoTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	srv := fakezk.NewTLS(t, &tls.Config{Certificates: []tls.Certificate{cert}})
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
	if body, err := fourletter.Do(ctx, srv.Addr(), "srvr"); err == nil {
		t.Errorf("plain TCP to a TLS port: %q", body)
	}
}

package kubeletapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/pki"
	"github.com/vnode-io/vnode/internal/serving"
	"github.com/vnode-io/vnode/internal/serving/servingtest"
)

// runServer serves a trivial handler over TLS with a certificate from a
// fresh CA, and returns its address and a client configuration trusting it.
func runServer(t *testing.T, limits serving.Limits) (string, *tls.Config) {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	ca, err := pki.NewCA("test-ca", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.Spec{CommonName: "kubelet", IPs: []net.IP{net.ParseIP("127.0.0.1")},
		Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, Validity: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.Write(dir, "serving"); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerConfig{Listener: ln, Limits: limits,
		Handler:  http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		CertFile: filepath.Join(dir, "serving.crt"), KeyFile: filepath.Join(dir, "serving.key")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return ln.Addr().String(), &tls.Config{RootCAs: pool}
}

// The kubelet API speaks TLS 1.2 with ECDHE AEAD suites only: a client of
// CBC-SHA1 suites fails the handshake.
func TestServerRefusesCBCSuites(t *testing.T) {
	addr, client := runServer(t, serving.Limits{})
	servingtest.CheckSuites(t, addr, client,
		[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA},
		[]uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256})
}

// An idle keep-alive connection is closed after the idle timeout.
func TestServerClosesIdleConnections(t *testing.T) {
	addr, client := runServer(t, serving.Limits{IdleTimeout: 100 * time.Millisecond})
	c, err := tls.Dial("tcp", addr, client)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	servingtest.CheckIdleClose(t, c)
}

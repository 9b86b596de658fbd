// Package servingtest checks, for tests, the bounds package serving puts
// on a server: idle connections closed, TLS suites refused.
package servingtest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"
)

// CheckIdleClose sends one GET /healthz on c, reads the answer, and then
// expects the server to close c while it idles; c's deadline bounds the
// wait.
func CheckIdleClose(t testing.TB, c net.Conn) {
	t.Helper()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) {
		t.Fatalf("idle keep-alive connection: read %v, want EOF (closed by the server)", err)
	}
}

// CheckSuites expects TLS 1.2 handshakes with addr, under cfg, to fail
// when the client offers only one of refused and to succeed with each of
// allowed.
func CheckSuites(t testing.TB, addr string, cfg *tls.Config, refused, allowed []uint16) {
	t.Helper()
	handshake := func(suite uint16) error {
		c := cfg.Clone()
		c.MaxVersion, c.CipherSuites = tls.VersionTLS12, []uint16{suite}
		conn, err := tls.Dial("tcp", addr, c)
		if err != nil {
			return err
		}
		return conn.Close()
	}
	for _, s := range refused {
		if err := handshake(s); err == nil {
			t.Errorf("TLS 1.2 handshake with %s succeeded", tls.CipherSuiteName(s))
		}
	}
	for _, s := range allowed {
		if err := handshake(s); err != nil {
			t.Errorf("TLS 1.2 handshake with %s: %v", tls.CipherSuiteName(s), err)
		}
	}
}

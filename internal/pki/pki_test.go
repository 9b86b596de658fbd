package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 28, 8, 0, 0, 0, time.UTC)

func serverSpec() Spec {
	return Spec{
		CommonName: "kube-apiserver",
		DNSNames:   []string{"kubernetes", "localhost"},
		IPs:        []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
		Usages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		Validity:   365 * 24 * time.Hour,
	}
}

func TestIssuedCertificateVerifiesAgainstCA(t *testing.T) {
	ca, err := NewCA("test-ca", 10*365*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(serverSpec(), now)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, host := range []string{"kubernetes", "localhost", "127.0.0.1", "10.0.0.1"} {
		_, err := cert.Cert.Verify(x509.VerifyOptions{
			DNSName:     host,
			Roots:       pool,
			CurrentTime: now,
			KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		})
		if err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
	if _, err := cert.Cert.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: pool, CurrentTime: now}); err == nil {
		t.Error("certificate verified for a name it was not issued for")
	}
}

func TestIssueNeverOutlivesCA(t *testing.T) {
	ca, err := NewCA("short-ca", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(serverSpec(), now)
	if err != nil {
		t.Fatal(err)
	}
	if cert.Cert.NotAfter.After(ca.Cert.NotAfter) {
		t.Errorf("certificate expires %v, after its CA (%v)", cert.Cert.NotAfter, ca.Cert.NotAfter)
	}
}

func TestIssueRejectsIncompleteSpec(t *testing.T) {
	ca, err := NewCA("ca", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Issue(Spec{Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, now); err == nil {
		t.Error("issued a certificate without a common name")
	}
	if _, err := ca.Issue(Spec{CommonName: "x"}, now); err == nil {
		t.Error("issued a certificate without usages")
	}
}

func TestMatches(t *testing.T) {
	ca, err := NewCA("ca", 10*365*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	otherCA, err := NewCA("other", 10*365*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.Issue(serverSpec(), now)
	if err != nil {
		t.Fatal(err)
	}
	changed := serverSpec()
	changed.IPs = append(changed.IPs, net.ParseIP("192.0.2.9"))
	reordered := serverSpec()
	reordered.DNSNames = []string{"localhost", "kubernetes"}
	tests := []struct {
		name string
		spec Spec
		ca   *CertKey
		at   time.Time
		want bool
	}{
		{"same spec", serverSpec(), ca, now, true},
		{"names in another order", reordered, ca, now, true},
		{"new address", changed, ca, now, false},
		{"other CA", serverSpec(), otherCA, now, false},
		{"about to expire", serverSpec(), ca, now.Add(360 * 24 * time.Hour), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cert.Matches(tc.spec, tc.ca, tc.at, 30*24*time.Hour); got != tc.want {
				t.Errorf("Matches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWriteAndLoad(t *testing.T) {
	dir := t.TempDir()
	ca, err := NewCA("ca", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Write(dir, "ca"); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key mode = %v, want 0600", info.Mode().Perm())
	}
	loaded, err := Load(dir, "ca")
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert.Equal(ca.Cert) {
		t.Error("loaded certificate differs from the written one")
	}

	// A key that belongs to another certificate is refused.
	other, err := NewCA("other", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := other.KeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(filepath.Join(dir, "ca.key"), keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, "ca"); err == nil {
		t.Error("loaded a certificate with a key that is not its own")
	}
}

func TestNewSigningKey(t *testing.T) {
	dir := t.TempDir()
	if err := NewSigningKey(dir, "sa"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"sa.key", "sa.pub"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(data) == 0 {
			t.Errorf("%s is empty", name)
		}
	}
}

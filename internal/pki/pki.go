package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	certutil "k8s.io/client-go/util/cert"
	"k8s.io/client-go/util/keyutil"
)

// clockSkew backdates NotBefore so that a certificate is valid at once on
// machines whose clocks differ slightly.
const clockSkew = 5 * time.Minute

// CertKey is a certificate with its private key.
type CertKey struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Spec describes a certificate to issue.
type Spec struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	// Usages are the extended key usages: x509.ExtKeyUsageServerAuth,
	// x509.ExtKeyUsageClientAuth or both.
	Usages   []x509.ExtKeyUsage
	Validity time.Duration
}

// NewCA creates a self-signed certificate authority.
func NewCA(commonName string, validity time.Duration, now time.Time) (*CertKey, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          mustSerial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	return sign(tmpl, tmpl, key, key)
}

// Issue signs a new certificate for spec with the CA ca.
func (ca *CertKey) Issue(spec Spec, now time.Time) (*CertKey, error) {
	if spec.CommonName == "" {
		return nil, errors.New("certificate needs a common name")
	}
	if len(spec.Usages) == 0 {
		return nil, fmt.Errorf("certificate %q needs at least one usage", spec.CommonName)
	}
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	notAfter := now.Add(spec.Validity)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: mustSerial(),
		Subject:      pkix.Name{CommonName: spec.CommonName, Organization: spec.Organization},
		DNSNames:     spec.DNSNames,
		IPAddresses:  spec.IPs,
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  spec.Usages,
	}
	return sign(tmpl, ca.Cert, key, ca.Key)
}

// Matches reports whether c was issued for spec by ca and stays valid for
// at least minRemaining after now. Callers reuse a certificate on disk only
// when it matches, so that a changed address or name gets a new one.
func (c *CertKey) Matches(spec Spec, ca *CertKey, now time.Time, minRemaining time.Duration) bool {
	cert := c.Cert
	if cert.CheckSignatureFrom(ca.Cert) != nil {
		return false
	}
	if now.Before(cert.NotBefore) || now.Add(minRemaining).After(cert.NotAfter) {
		return false
	}
	if cert.Subject.CommonName != spec.CommonName || !sameStrings(cert.Subject.Organization, spec.Organization) {
		return false
	}
	if !sameStrings(cert.DNSNames, spec.DNSNames) || !slices.Equal(cert.ExtKeyUsage, spec.Usages) {
		return false
	}
	return slices.EqualFunc(cert.IPAddresses, spec.IPs, func(a, b net.IP) bool { return a.Equal(b) })
}

// CertPEM returns the certificate in PEM form.
func (c *CertKey) CertPEM() []byte {
	return pemCert(c.Cert)
}

// KeyPEM returns the private key in PEM form.
func (c *CertKey) KeyPEM() ([]byte, error) {
	return keyutil.MarshalPrivateKeyToPEM(c.Key)
}

// Write stores the pair as dir/name.crt and dir/name.key (mode 0600).
func (c *CertKey) Write(dir, name string) error {
	keyPEM, err := c.KeyPEM()
	if err != nil {
		return fmt.Errorf("encode key %s: %w", name, err)
	}
	if err := WriteFile(filepath.Join(dir, name+".key"), keyPEM, 0o600); err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, name+".crt"), c.CertPEM(), 0o644)
}

// Load reads dir/name.crt and dir/name.key.
func Load(dir, name string) (*CertKey, error) {
	certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	certs, err := certutil.CertsFromFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("load certificate: %w", err)
	}
	key, err := keyutil.PrivateKeyFromFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("load key %s: %w", keyPath, err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("key %s cannot sign", keyPath)
	}
	if !publicKeysEqual(certs[0].PublicKey, signer.Public()) {
		return nil, fmt.Errorf("key %s does not belong to certificate %s", keyPath, certPath)
	}
	return &CertKey{Cert: certs[0], Key: signer}, nil
}

// NewSigningKey creates a key pair for signing tokens (the service-account
// issuer) and writes it as dir/name.key and dir/name.pub.
func NewSigningKey(dir, name string) error {
	key, err := newKey()
	if err != nil {
		return err
	}
	keyPEM, err := keyutil.MarshalPrivateKeyToPEM(key)
	if err != nil {
		return fmt.Errorf("encode key %s: %w", name, err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("encode public key %s: %w", name, err)
	}
	if err := WriteFile(filepath.Join(dir, name+".key"), keyPEM, 0o600); err != nil {
		return err
	}
	return WriteFile(filepath.Join(dir, name+".pub"), pemBlock("PUBLIC KEY", pubDER), 0o644)
}

// WriteFile writes data to path atomically (a temporary file renamed into
// place), creating the parent directory, so that a crash never leaves half
// a key behind.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create directory for %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after a successful rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func newKey() (*ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	return key, nil
}

func sign(tmpl, parent *x509.Certificate, key crypto.Signer, parentKey crypto.Signer) (*CertKey, error) {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("sign certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse certificate %q: %w", tmpl.Subject.CommonName, err)
	}
	return &CertKey{Cert: cert, Key: key}, nil
}

func mustSerial() *big.Int {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		// crypto/rand never fails on Linux; a failure means the system is broken.
		panic(fmt.Sprintf("read random serial number: %v", err))
	}
	return serial
}

func pemCert(cert *x509.Certificate) []byte {
	return pemBlock(certutil.CertificateBlockType, cert.Raw)
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

func sameStrings(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}

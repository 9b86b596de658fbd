package kubeletapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"sync"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/certificate"
)

// CSRConfig configures a serving certificate requested from the cluster.
type CSRConfig struct {
	// Client creates and watches the CertificateSigningRequests. Required.
	Client kubernetes.Interface
	// NodeName makes the subject: CN=system:node:<NodeName>,
	// O=system:nodes, which the kubelet-serving signer requires. Required.
	NodeName string
	// IPs and DNSNames are the certificate's subject alternative names:
	// the node's InternalIP and hostname. At least one is required.
	IPs      []net.IP
	DNSNames []string
	// Dir keeps the certificate and its key (kubelet-server-current.pem)
	// across restarts; when empty they live in memory only, and every
	// start needs a new approval.
	Dir string
}

// CSRCertificate is a serving certificate obtained, and renewed before it
// expires, through CertificateSigningRequests for the
// kubernetes.io/kubelet-serving signer, by client-go's certificate
// manager as the kubelet does. kube-controller-manager signs such
// requests once approved but never approves them: an administrator or an
// approver must.
type CSRCertificate struct {
	manager certificate.Manager
}

// NewCSRCertificate prepares the manager; Run starts requesting.
func NewCSRCertificate(cfg CSRConfig) (*CSRCertificate, error) {
	if cfg.Client == nil || cfg.NodeName == "" {
		return nil, errors.New("kubeletapi: a requested certificate needs a Client and a NodeName")
	}
	if len(cfg.IPs) == 0 && len(cfg.DNSNames) == 0 {
		return nil, errors.New("kubeletapi: a requested certificate needs an IP address or a DNS name")
	}
	var store certificate.Store = &memoryStore{}
	if cfg.Dir != "" {
		var err error
		if store, err = certificate.NewFileStore("kubelet-server", cfg.Dir, cfg.Dir, "", ""); err != nil {
			return nil, fmt.Errorf("kubeletapi: certificate store %s: %w", cfg.Dir, err)
		}
	}
	template := &x509.CertificateRequest{
		Subject:     pkix.Name{CommonName: "system:node:" + cfg.NodeName, Organization: []string{"system:nodes"}},
		IPAddresses: cfg.IPs,
		DNSNames:    cfg.DNSNames,
	}
	client := cfg.Client
	m, err := certificate.NewManager(&certificate.Config{
		ClientsetFn:      func(*tls.Certificate) (kubernetes.Interface, error) { return client, nil },
		Template:         template,
		SignerName:       certificatesv1.KubeletServingSignerName,
		GetUsages:        certificate.DefaultKubeletServingGetUsages,
		CertificateStore: store,
		Name:             "kubelet-serving",
	})
	if err != nil {
		return nil, fmt.Errorf("kubeletapi: certificate manager: %w", err)
	}
	return &CSRCertificate{manager: m}, nil
}

// Current returns the certificate, or nil before the first is issued.
func (c *CSRCertificate) Current() *tls.Certificate { return c.manager.Current() }

// Run requests and renews the certificate until ctx ends.
func (c *CSRCertificate) Run(ctx context.Context) {
	c.manager.Start()
	<-ctx.Done()
	c.manager.Stop()
}

// memoryStore keeps the certificate in memory.
type memoryStore struct {
	mu   sync.Mutex
	cert *tls.Certificate
}

// Current implements certificate.Store.
func (s *memoryStore) Current() (*tls.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cert == nil {
		err := certificate.NoCertKeyError("no serving certificate yet")
		return nil, &err
	}
	return s.cert, nil
}

// Update implements certificate.Store.
func (s *memoryStore) Update(certPEM, keyPEM []byte) (*tls.Certificate, error) {
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("kubeletapi: issued certificate: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cert = &cert
	return &cert, nil
}

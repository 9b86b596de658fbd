package agent

import (
	"fmt"
	"log/slog"
	"net"
	"os"

	"k8s.io/client-go/kubernetes"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/kubeletapi"
)

// KubeletConfig configures the kubelet API, which the API server calls for
// logs, exec, attach, port-forward and the node's stats.
type KubeletConfig struct {
	// Addr is the listening address, e.g. ":10250" or "127.0.0.1:0";
	// no kubelet API when empty. When Node.Port is zero, the node
	// advertises the port listened on.
	Addr string
	// CertFile and KeyFile are the serving certificate and key (PEM).
	// When both are empty, a certificate is requested by CSR for the
	// kubernetes.io/kubelet-serving signer, which someone must approve.
	CertFile, KeyFile string
	// CertDir keeps a requested certificate across restarts; in memory
	// only when empty.
	CertDir string
	// ClientCAFile is the CA bundle that client certificates (the API
	// server's kubelet client) must chain to; without it only bearer
	// tokens are accepted.
	ClientCAFile string
}

// listenKubelet opens the kubelet API's listener, or returns nil when the
// API is disabled.
func listenKubelet(addr string) (net.Listener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("agent: kubelet API address %s: %w", addr, err)
	}
	return ln, nil
}

// kubeletParts are what the kubelet API serves from.
type kubeletParts struct {
	client     kubernetes.Interface
	backend    backend.Backend
	pods       kubeletapi.Pods
	nodeName   string
	internalIP string
	log        *slog.Logger
}

// newKubeletServer assembles the kubelet API on ln: delegated
// authentication and authorization, the handler over the pod controller's
// cache and the backend, and the serving certificate.
func newKubeletServer(cfg KubeletConfig, ln net.Listener, p kubeletParts) (*kubeletapi.Server, error) {
	client, nodeName := p.client, p.nodeName
	var clientCA []byte
	if cfg.ClientCAFile != "" {
		var err error
		if clientCA, err = os.ReadFile(cfg.ClientCAFile); err != nil {
			return nil, fmt.Errorf("agent: client CA: %w", err)
		}
	}
	authn, authz, err := kubeletapi.NewDelegatingAuth(kubeletapi.AuthConfig{Client: client, ClientCA: clientCA})
	if err != nil {
		return nil, err
	}
	handler, err := kubeletapi.NewHandler(kubeletapi.HandlerConfig{
		NodeName: nodeName, Pods: p.pods, Backend: p.backend, Authenticator: authn, Authorizer: authz, Logger: p.log,
	})
	if err != nil {
		return nil, err
	}
	csr := kubeletapi.CSRConfig{Client: client, NodeName: nodeName, Dir: cfg.CertDir}
	if ip := net.ParseIP(p.internalIP); ip != nil {
		csr.IPs = append(csr.IPs, ip)
	}
	if net.ParseIP(nodeName) == nil {
		csr.DNSNames = append(csr.DNSNames, nodeName)
	}
	return kubeletapi.NewServer(kubeletapi.ServerConfig{
		Listener: ln, Handler: handler, CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, CSR: csr, ClientCA: clientCA,
		Logger: p.log,
	})
}

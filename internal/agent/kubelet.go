package agent

import (
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	kubeletconfigv1beta1 "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/ptr"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/kubeletapi"
	"github.com/vnode-io/vnode/internal/node"
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
	// ClusterDNS and ClusterDomain are what the node gives pods with
	// dnsPolicy ClusterFirst, reported in /configz.
	ClusterDNS    []string
	ClusterDomain string
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
	// metrics are the agent's, served at /metrics with the kubelet's.
	metrics prometheus.Gatherer
	// capacity is the node's, the machine of /metrics/cadvisor.
	capacity corev1.ResourceList
	// node is the node's configuration, for /configz.
	node node.ControllerConfig
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
		Metrics: p.metrics, Capacity: func() corev1.ResourceList { return p.capacity },
		Configz: kubeletConfiguration(cfg, p.node, p.capacity),
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

// kubeletConfiguration is the node's configuration as a kubelet's /configz
// shows it, with the fields a virtual kubelet has: where and how its API
// serves and authorizes, its node's lease and status timing, its pod
// capacity, and the cluster DNS it gives pods.
func kubeletConfiguration(cfg KubeletConfig, n node.ControllerConfig, capacity corev1.ResourceList) *kubeletconfigv1beta1.KubeletConfiguration {
	c := &kubeletconfigv1beta1.KubeletConfiguration{
		TypeMeta:          metav1.TypeMeta{Kind: "KubeletConfiguration", APIVersion: "kubelet.config.k8s.io/v1beta1"},
		Port:              n.Port,
		TLSCertFile:       cfg.CertFile,
		TLSPrivateKeyFile: cfg.KeyFile,
		// Without a certificate the agent requests one by CSR.
		ServerTLSBootstrap: cfg.CertFile == "",
		Authentication: kubeletconfigv1beta1.KubeletAuthentication{
			X509:      kubeletconfigv1beta1.KubeletX509Authentication{ClientCAFile: cfg.ClientCAFile},
			Webhook:   kubeletconfigv1beta1.KubeletWebhookAuthentication{Enabled: ptr.To(true)},
			Anonymous: kubeletconfigv1beta1.KubeletAnonymousAuthentication{Enabled: ptr.To(false)},
		},
		Authorization:                  kubeletconfigv1beta1.KubeletAuthorization{Mode: kubeletconfigv1beta1.KubeletAuthorizationModeWebhook},
		ClusterDomain:                  cfg.ClusterDomain,
		ClusterDNS:                     cfg.ClusterDNS,
		StreamingConnectionIdleTimeout: metav1.Duration{Duration: 4 * time.Hour},
		NodeStatusReportFrequency:      metav1.Duration{Duration: n.StatusInterval},
		NodeLeaseDurationSeconds:       int32(n.LeaseDuration / time.Second),
		RegisterNode:                   ptr.To(true),
	}
	if host, _, err := net.SplitHostPort(cfg.Addr); err == nil {
		c.Address = host
	}
	if pods, ok := capacity[corev1.ResourcePods]; ok {
		c.MaxPods = int32(pods.Value())
	}
	if n.Taint != nil {
		c.RegisterWithTaints = []corev1.Taint{*n.Taint}
	}
	return c
}

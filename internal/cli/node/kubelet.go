package node

import (
	"errors"
	"net"
	"strconv"

	"github.com/vnode-io/vnode/internal/agent"
)

// kubeletConfig reads the kubelet API flags, and returns the port the
// node advertises: --port, unless only --kubelet-addr names a port, in
// which case 0 lets the agent advertise the port it listens on.
func kubeletConfig(f *flags, portChanged bool) (agent.KubeletConfig, int32, error) {
	port := int32(f.port)
	if f.noKubeletAPI {
		return agent.KubeletConfig{}, port, nil
	}
	if (f.kubeletCert == "") != (f.kubeletKey == "") {
		return agent.KubeletConfig{}, 0, errors.New("--kubelet-cert and --kubelet-key go together")
	}
	cfg := agent.KubeletConfig{
		Addr: f.kubeletAddr, CertFile: f.kubeletCert, KeyFile: f.kubeletKey,
		CertDir: f.kubeletCertDir, ClientCAFile: f.clientCAFile,
		ClusterDNS: f.clusterDNS, ClusterDomain: f.clusterDomain,
	}
	if cfg.Addr == "" {
		cfg.Addr = ":" + strconv.Itoa(f.port)
		return cfg, port, nil
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return agent.KubeletConfig{}, 0, errors.New("--kubelet-addr " + cfg.Addr + ": want host:port")
	}
	if !portChanged {
		port = 0
	}
	return cfg, port, nil
}

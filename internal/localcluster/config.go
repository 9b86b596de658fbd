package localcluster

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/vnode-io/vnode/internal/instances/network"
	"github.com/vnode-io/vnode/internal/k8sbin"
)

// Ports are the TCP ports the components listen on. Two clusters can run
// side by side when their ports differ.
type Ports struct {
	APIServer         int `json:"apiServer"`
	EtcdClient        int `json:"etcdClient"`
	EtcdPeer          int `json:"etcdPeer"`
	ControllerManager int `json:"controllerManager"`
	Scheduler         int `json:"scheduler"`
	// Instances is the container instances service's HTTPS port.
	Instances int `json:"instances"`
	// Registry and PrivateRegistry are the local image registries' ports
	// (loopback, plain HTTP; the private one wants a password).
	Registry        int `json:"registry"`
	PrivateRegistry int `json:"privateRegistry"`
	// Kubelet is the virtual node's kubelet API port (every address, so
	// that the API server reaches it at the node's InternalIP), NodeMetrics
	// its /metrics and /healthz port (loopback).
	Kubelet     int `json:"kubelet"`
	NodeMetrics int `json:"nodeMetrics"`
	// ProxyHealthz and ProxyMetrics are kube-proxy's /healthz and /metrics
	// ports (loopback).
	ProxyHealthz int `json:"proxyHealthz,omitempty"`
	ProxyMetrics int `json:"proxyMetrics,omitempty"`
}

// DefaultPorts are the ports kubeadm clusters use.
func DefaultPorts() Ports {
	return Ports{APIServer: 6443, EtcdClient: 2379, EtcdPeer: 2380, ControllerManager: 10257, Scheduler: 10259,
		Instances: 8443, Registry: 5000, PrivateRegistry: 5001, Kubelet: 10250, NodeMetrics: 10255,
		ProxyHealthz: 10256, ProxyMetrics: 10249}
}

// Config describes a local cluster.
type Config struct {
	// StateDir holds certificates, data, logs and pid files. Required.
	StateDir string `json:"stateDir"`
	// BinDir holds the control-plane binaries (a k8sbin.Set). Required.
	BinDir string `json:"binDir"`
	// Ports the components listen on; zero fields take DefaultPorts.
	Ports Ports `json:"ports"`
	// AdvertiseAddress is the non-loopback address the API server
	// publishes as the kubernetes Service's endpoint. Empty: the address of
	// the interface with the default route.
	AdvertiseAddress string `json:"advertiseAddress,omitempty"`
	// ServiceCIDR is the Service IP range; 10.0.0.0/16 when empty, which
	// makes the kubernetes Service 10.0.0.1.
	ServiceCIDR string `json:"serviceCIDR,omitempty"`
	// ClusterDomain is the DNS domain of Services; cluster.local when empty.
	ClusterDomain string `json:"clusterDomain,omitempty"`
	// VnodeBinary is the vnode executable that runs the add-ons (the
	// container instances service). Empty: the cluster is the control
	// plane alone.
	VnodeBinary string `json:"vnodeBinary,omitempty"`
	// Runtime is what runs the container groups: RuntimeContainerd (the
	// default; needs root) or RuntimeFake (simulated, in the service's process).
	Runtime string `json:"runtime,omitempty"`
	// GroupBridge and GroupSubnet are the container groups' network with
	// the containerd runtime: the bridge CNI creates and the subnet the
	// groups' IPs come from (vnode0, 10.241.0.0/16 when empty).
	GroupBridge string `json:"groupBridge,omitempty"`
	GroupSubnet string `json:"groupSubnet,omitempty"`
	// TokenMaxAge, when set, is how old the virtual node lets a pod's
	// service-account token grow before replacing it (24 hours when zero).
	TokenMaxAge time.Duration `json:"tokenMaxAge,omitempty"`
	// ImageCacheDir caches the compiled programs of vnode's images (the
	// images package's default when empty).
	ImageCacheDir string `json:"imageCacheDir,omitempty"`

	// Out receives a line per step; io.Discard when nil.
	Out io.Writer `json:"-"`
	// ReadyTimeout bounds the wait for each component; 2 minutes when zero.
	ReadyTimeout time.Duration `json:"-"`
	// StopGrace is how long a component may take to exit after SIGTERM;
	// 15 seconds when zero.
	StopGrace time.Duration `json:"-"`
}

// The runtimes the container instances service can run groups with.
const (
	RuntimeContainerd = "containerd"
	RuntimeFake       = "fake"
)

// DefaultStateDir is $VNODE_STATE_DIR, else vnode under $XDG_STATE_HOME
// (~/.local/state/vnode).
func DefaultStateDir() (string, error) {
	if dir := os.Getenv("VNODE_STATE_DIR"); dir != "" {
		return dir, nil
	}
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "vnode"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the home directory (set VNODE_STATE_DIR): %w", err)
	}
	return filepath.Join(home, ".local", "state", "vnode"), nil
}

// withDefaults returns cfg with empty fields filled and paths made absolute.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.StateDir == "" {
		return cfg, errors.New("a state directory is required")
	}
	if cfg.BinDir == "" {
		return cfg, errors.New("a directory of control-plane binaries is required")
	}
	var err error
	if cfg.StateDir, err = filepath.Abs(cfg.StateDir); err != nil {
		return cfg, fmt.Errorf("state directory: %w", err)
	}
	if cfg.BinDir, err = filepath.Abs(cfg.BinDir); err != nil {
		return cfg, fmt.Errorf("binary directory: %w", err)
	}
	def := DefaultPorts()
	for _, p := range []struct {
		got *int
		def int
	}{
		{&cfg.Ports.APIServer, def.APIServer},
		{&cfg.Ports.EtcdClient, def.EtcdClient},
		{&cfg.Ports.EtcdPeer, def.EtcdPeer},
		{&cfg.Ports.ControllerManager, def.ControllerManager},
		{&cfg.Ports.Scheduler, def.Scheduler},
		{&cfg.Ports.Instances, def.Instances},
		{&cfg.Ports.Registry, def.Registry},
		{&cfg.Ports.PrivateRegistry, def.PrivateRegistry},
		{&cfg.Ports.Kubelet, def.Kubelet},
		{&cfg.Ports.NodeMetrics, def.NodeMetrics},
		{&cfg.Ports.ProxyHealthz, def.ProxyHealthz},
		{&cfg.Ports.ProxyMetrics, def.ProxyMetrics},
	} {
		if *p.got == 0 {
			*p.got = p.def
		}
	}
	if cfg.ServiceCIDR == "" {
		cfg.ServiceCIDR = "10.0.0.0/16"
	}
	if cfg.Runtime == "" {
		cfg.Runtime = RuntimeContainerd
	}
	if cfg.GroupBridge == "" {
		cfg.GroupBridge = network.DefaultBridge
	}
	if cfg.GroupSubnet == "" {
		cfg.GroupSubnet = network.DefaultSubnet
	}
	if cfg.ClusterDomain == "" {
		cfg.ClusterDomain = "cluster.local"
	}
	if cfg.Out == nil {
		cfg.Out = io.Discard
	}
	if cfg.ReadyTimeout == 0 {
		cfg.ReadyTimeout = 2 * time.Minute
	}
	if cfg.StopGrace == 0 {
		cfg.StopGrace = 15 * time.Second
	}
	return cfg, nil
}

// validate checks the configuration and names the offending setting.
func (cfg Config) validate() error {
	var errs []error
	if _, err := k8sbin.CheckDir(cfg.BinDir); err != nil {
		errs = append(errs, err)
	}
	seen := map[int]string{}
	for _, p := range cfg.ports() {
		if p.port < 1 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("%s port %d is out of range", p.component, p.port))
			continue
		}
		if other, ok := seen[p.port]; ok {
			errs = append(errs, fmt.Errorf("port %d is given to both %s and %s", p.port, other, p.component))
		}
		seen[p.port] = p.component
	}
	if _, err := serviceIP(cfg.ServiceCIDR); err != nil {
		errs = append(errs, err)
	}
	if cfg.VnodeBinary != "" {
		switch cfg.Runtime {
		case RuntimeFake:
		case RuntimeContainerd:
			if os.Geteuid() != 0 {
				errs = append(errs, errors.New("the containerd runtime needs root: run vnode up as root, or pass --runtime fake to simulate the containers"))
			}
			if _, err := (network.Config{Bridge: cfg.GroupBridge, Subnet: cfg.GroupSubnet, IPAMDir: "/"}).Resolved(); err != nil {
				errs = append(errs, err)
			}
		default:
			errs = append(errs, fmt.Errorf("runtime %q: use %s or %s", cfg.Runtime, RuntimeContainerd, RuntimeFake))
		}
	}
	if cfg.AdvertiseAddress != "" {
		ip := net.ParseIP(cfg.AdvertiseAddress)
		if ip == nil || ip.To4() == nil {
			errs = append(errs, fmt.Errorf("advertise address %q is not an IPv4 address", cfg.AdvertiseAddress))
		}
	}
	return errors.Join(errs...)
}

// serviceIP returns the first address of the Service range, which the API
// server gives to the kubernetes Service.
func serviceIP(cidr string) (net.IP, error) { return nthServiceIP(cidr, 1) }

// nthServiceIP is the n-th address of the Service range: 1 for the
// kubernetes Service, 10 for cluster DNS, as kubeadm and AKS number them.
func nthServiceIP(cidr string, n byte) (net.IP, error) {
	ip, ipnet, err := net.ParseCIDR(cidr)
	if err != nil || ip.To4() == nil {
		return nil, fmt.Errorf("service CIDR %q is not an IPv4 CIDR", cidr)
	}
	first := ipnet.IP.To4()
	out := net.IPv4(first[0], first[1], first[2], first[3]+n).To4()
	if !ipnet.Contains(out) {
		return nil, fmt.Errorf("service CIDR %q is too small", cidr)
	}
	return out, nil
}

// Package up implements `vnode up`, which starts the local cluster and
// supervises it until Ctrl-C, `vnode down`, or a component failure.
package up

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/vnode-io/vnode/internal/cli/controlplane"
	"github.com/vnode-io/vnode/internal/instances/network"
	"github.com/vnode-io/vnode/internal/localcluster"
	"github.com/vnode-io/vnode/internal/version"
)

// readyLine is what a detached supervisor writes on its notify pipe once
// the cluster is ready.
const readyLine = "vnode-cluster-ready"

type flags struct {
	stateDir         string
	detach           bool
	notifyFD         int
	advertiseAddress string
	runtime          string
	bridge           string
	subnet           string
	tokenMaxAge      time.Duration
	ports            localcluster.Ports
	binaries         controlplane.Flags
}

// NewCommand returns the up command.
func NewCommand() *cobra.Command {
	return newCommand(&flags{})
}

func newCommand(f *flags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the local cluster and keep it running until Ctrl-C or `vnode down`",
		Long: `Start the local cluster: etcd, kube-apiserver, kube-controller-manager and
kube-scheduler, with certificates and an admin kubeconfig in the state
directory (DIR/kubeconfig); two local image registries on loopback (one open,
one with a password; see DIR/registry/registries.json) holding vnode's
images; and the container instances service, which runs each container group
as a pod sandbox on its own containerd with an IP on the groups' bridge, and
whose client files (endpoint, token, ca.crt, subscription, resource-group,
location) are written to DIR/instances/. Stopping the cluster ends its
container groups. Without --detach, vnode stays in the foreground
and stops the cluster on Ctrl-C; with --detach it returns once the cluster is
ready and a background vnode process supervises it until ` + "`vnode down`" + `.

Starting again from an existing state directory reuses its certificates, its
data and the ports and address it was last started with.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(cmd.Flags())
			if err != nil {
				return err
			}
			if f.detach {
				return runDetached(cmd.Context(), cfg.StateDir, cmd.OutOrStdout())
			}
			return run(cmd.Context(), f, cfg, cmd.OutOrStdout())
		},
	}
	fs := cmd.Flags()
	defaultState, _ := localcluster.DefaultStateDir()
	fs.StringVar(&f.stateDir, "state-dir", defaultState, "directory for certificates, data, logs and the kubeconfig (env VNODE_STATE_DIR)")
	fs.BoolVar(&f.detach, "detach", false, "return once the cluster is ready, leaving it running in the background")
	fs.IntVar(&f.notifyFD, "notify-fd", 0, "file descriptor on which to report progress and readiness (used by --detach)")
	_ = fs.MarkHidden("notify-fd")
	fs.StringVar(&f.advertiseAddress, "advertise-address", "", "IPv4 address the API server advertises (default: the address of the default-route interface)")
	fs.StringVar(&f.runtime, "runtime", localcluster.RuntimeContainerd, "what runs the container groups: containerd (needs root) or fake (simulated)")
	fs.StringVar(&f.bridge, "bridge", network.DefaultBridge, "the container groups' bridge (containerd runtime)")
	fs.StringVar(&f.subnet, "subnet", network.DefaultSubnet, "the subnet the container groups' IPs come from (containerd runtime)")
	def := localcluster.DefaultPorts()
	fs.IntVar(&f.ports.APIServer, "apiserver-port", def.APIServer, "kube-apiserver's secure port")
	fs.IntVar(&f.ports.EtcdClient, "etcd-port", def.EtcdClient, "etcd's client port (loopback)")
	fs.IntVar(&f.ports.EtcdPeer, "etcd-peer-port", def.EtcdPeer, "etcd's peer port (loopback)")
	fs.IntVar(&f.ports.ControllerManager, "controller-manager-port", def.ControllerManager, "kube-controller-manager's secure port (loopback)")
	fs.IntVar(&f.ports.Scheduler, "scheduler-port", def.Scheduler, "kube-scheduler's secure port (loopback)")
	fs.IntVar(&f.ports.Instances, "instances-port", def.Instances, "container instances service's HTTPS port (loopback)")
	fs.IntVar(&f.ports.Registry, "registry-port", def.Registry, "the open image registry's port (loopback)")
	fs.IntVar(&f.ports.PrivateRegistry, "private-registry-port", def.PrivateRegistry, "the password-protected image registry's port (loopback)")
	fs.IntVar(&f.ports.Kubelet, "kubelet-port", def.Kubelet, "the virtual node's kubelet API port (every address)")
	fs.IntVar(&f.ports.NodeMetrics, "node-metrics-port", def.NodeMetrics, "the virtual node's /metrics and /healthz port (loopback)")
	fs.DurationVar(&f.tokenMaxAge, "service-account-token-max-age", 0, "replace pods' service-account tokens once this old (default 24h; shorter shows rotation in demos and tests)")
	fs.IntVar(&f.ports.ProxyHealthz, "proxy-healthz-port", def.ProxyHealthz, "kube-proxy's /healthz port (loopback; containerd runtime)")
	fs.IntVar(&f.ports.ProxyMetrics, "proxy-metrics-port", def.ProxyMetrics, "kube-proxy's /metrics port (loopback; containerd runtime)")
	f.binaries.AddFlags(fs, true)
	return cmd
}

// config layers the configuration: defaults, then what the state directory
// was last started with, then the flags given on this command line.
func (f *flags) config(fs *pflag.FlagSet) (localcluster.Config, error) {
	if f.stateDir == "" {
		return localcluster.Config{}, fmt.Errorf("no state directory: pass --state-dir or set VNODE_STATE_DIR")
	}
	stateDir, err := filepath.Abs(f.stateDir)
	if err != nil {
		return localcluster.Config{}, fmt.Errorf("--state-dir: %w", err)
	}
	self, err := os.Executable()
	if err != nil {
		return localcluster.Config{}, fmt.Errorf("find the vnode executable: %w", err)
	}
	cfg := localcluster.Config{StateDir: stateDir, Ports: f.ports, AdvertiseAddress: f.advertiseAddress,
		VnodeBinary: self, Runtime: f.runtime, GroupBridge: f.bridge, GroupSubnet: f.subnet, TokenMaxAge: f.tokenMaxAge}
	if f.binaries.CacheDir != "" {
		cfg.ImageCacheDir = filepath.Join(f.binaries.CacheDir, "images")
	}
	saved, err := localcluster.LoadConfig(stateDir)
	if err != nil {
		return cfg, nil // a new state directory: defaults and flags only
	}
	keep := func(flag string, field *int, savedValue int) {
		if !fs.Changed(flag) && savedValue != 0 {
			*field = savedValue
		}
	}
	keep("apiserver-port", &cfg.Ports.APIServer, saved.Ports.APIServer)
	keep("etcd-port", &cfg.Ports.EtcdClient, saved.Ports.EtcdClient)
	keep("etcd-peer-port", &cfg.Ports.EtcdPeer, saved.Ports.EtcdPeer)
	keep("controller-manager-port", &cfg.Ports.ControllerManager, saved.Ports.ControllerManager)
	keep("scheduler-port", &cfg.Ports.Scheduler, saved.Ports.Scheduler)
	keep("instances-port", &cfg.Ports.Instances, saved.Ports.Instances)
	keep("registry-port", &cfg.Ports.Registry, saved.Ports.Registry)
	keep("private-registry-port", &cfg.Ports.PrivateRegistry, saved.Ports.PrivateRegistry)
	keep("kubelet-port", &cfg.Ports.Kubelet, saved.Ports.Kubelet)
	keep("node-metrics-port", &cfg.Ports.NodeMetrics, saved.Ports.NodeMetrics)
	keep("proxy-healthz-port", &cfg.Ports.ProxyHealthz, saved.Ports.ProxyHealthz)
	keep("proxy-metrics-port", &cfg.Ports.ProxyMetrics, saved.Ports.ProxyMetrics)
	for _, s := range []struct {
		flag       string
		field      *string
		savedValue string
	}{{"runtime", &cfg.Runtime, saved.Runtime}, {"bridge", &cfg.GroupBridge, saved.GroupBridge}, {"subnet", &cfg.GroupSubnet, saved.GroupSubnet}} {
		if !fs.Changed(s.flag) && s.savedValue != "" {
			*s.field = s.savedValue
		}
	}
	if !fs.Changed("advertise-address") {
		cfg.AdvertiseAddress = saved.AdvertiseAddress
		// An address saved on another machine, or before an interface
		// went away, is dropped in favour of detection.
		if cfg.AdvertiseAddress != "" && !isLocalAddress(cfg.AdvertiseAddress) {
			cfg.AdvertiseAddress = ""
		}
	}
	return cfg, nil
}

func isLocalAddress(addr string) bool {
	ip := net.ParseIP(addr)
	addrs, err := net.InterfaceAddrs()
	if ip == nil || err != nil {
		return false
	}
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.Equal(ip) {
			return true
		}
	}
	return false
}

// run starts the cluster in this process and supervises it.
func run(ctx context.Context, f *flags, cfg localcluster.Config, stdout io.Writer) error {
	out := stdout
	var notify *os.File
	if f.notifyFD > 0 {
		notify = os.NewFile(uintptr(f.notifyFD), "notify")
		defer notify.Close()
		out = io.MultiWriter(stdout, notify)
	}
	set, err := f.binaries.Resolve(ctx, out)
	if err != nil {
		return err
	}
	cfg.BinDir = set.Dir
	cfg.Out = out
	cluster, err := localcluster.New(cfg)
	if err != nil {
		return err
	}
	if err := cluster.Start(ctx); err != nil {
		return err
	}
	defer cluster.Stop()
	fmt.Fprintf(out, "\ncluster ready; to use it:\n  export KUBECONFIG=%s\n  export PATH=%s:$PATH   # kubectl %s\n",
		cluster.Kubeconfig(), set.Dir, version.Kubernetes)
	if notify != nil {
		fmt.Fprintln(notify, readyLine)
		notify.Close()
	} else {
		fmt.Fprintln(out, "press Ctrl-C to stop it")
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "stopping the cluster")
		return nil
	case <-cluster.Failed():
		fmt.Fprintln(stdout, "a component failed; stopping the cluster")
		return cluster.Err()
	}
}

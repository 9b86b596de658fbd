package framework

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/localcluster"
)

// Stack is a complete local system started by `vnode up --detach`: the
// control plane, the registries, the container instances service on
// containerd and the virtual node, on free ports, with the container
// groups on a bridge and subnet of the caller's choice.
type Stack struct {
	Vnode    string
	StateDir string
	Ports    localcluster.Ports
	Bridge   string
	Subnet   *net.IPNet
	Client   kubernetes.Interface
	Regs     localcluster.Registries
	// Advertise is the node's InternalIP, where its kubelet API listens.
	Advertise string
}

// MissingStackPrereqs says why a Stack cannot run on this machine, if so.
func MissingStackPrereqs() string {
	if os.Geteuid() != 0 {
		return "needs root: containerd, CNI bridges and network namespaces"
	}
	for _, bin := range []string{"containerd", "runc", "docker-registry", "ip"} {
		if _, err := exec.LookPath(bin); err != nil {
			return "needs " + bin + " (hack/install-prereqs.sh installs it)"
		}
	}
	return ""
}

// StartStack runs `vnode up --detach` with vnode in a state directory under
// dir, adding extra to its flags. The groups' bridge is named after prefix
// and the service's port. On error the stack is already down.
func StartStack(ctx context.Context, set k8sbin.Set, vnode, dir, prefix, subnet string, extra ...string) (*Stack, error) {
	ports, err := localcluster.FreePorts()
	if err != nil {
		return nil, err
	}
	s := &Stack{Vnode: vnode, StateDir: filepath.Join(dir, "state"), Ports: ports,
		Bridge: prefix + strconv.Itoa(ports.Instances)}
	if _, s.Subnet, err = net.ParseCIDR(subnet); err != nil {
		return nil, fmt.Errorf("group subnet: %w", err)
	}
	args := append([]string{"up", "--detach", "--state-dir", s.StateDir, "--bin-dir", set.Dir},
		PortFlags(ports)...)
	args = append(append(args, "--bridge="+s.Bridge, "--subnet="+s.Subnet.String()), extra...)
	out, err := s.Run(ctx, args...)
	if err != nil {
		logs := s.LogTails(60)
		_ = s.Down()
		return nil, fmt.Errorf("vnode up: %w\n%s\n%s", err, out, logs)
	}
	fail := func(err error) (*Stack, error) {
		_ = s.Down()
		return nil, err
	}
	restConfig, err := clientcmd.BuildConfigFromFlags("", s.Kubeconfig())
	if err != nil {
		return fail(err)
	}
	restConfig.QPS, restConfig.Burst = 200, 400
	if s.Client, err = kubernetes.NewForConfig(restConfig); err != nil {
		return fail(err)
	}
	cfg, err := localcluster.LoadConfig(s.StateDir)
	if err != nil {
		return fail(err)
	}
	if cfg.Runtime != localcluster.RuntimeFake { // the fake runtime runs without registries
		if s.Regs, err = localcluster.ReadRegistries(s.StateDir); err != nil {
			return fail(err)
		}
	}
	s.Advertise = cfg.AdvertiseAddress
	return s, nil
}

// Kubeconfig is the admin kubeconfig of the stack.
func (s *Stack) Kubeconfig() string { return filepath.Join(s.StateDir, "kubeconfig") }

// Run runs the vnode binary and returns its combined output.
func (s *Stack) Run(ctx context.Context, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Vnode, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// Down stops the stack with `vnode down`.
func (s *Stack) Down() error {
	if out, err := s.Run(context.Background(), "down", "--state-dir", s.StateDir); err != nil {
		return fmt.Errorf("vnode down: %w\n%s", err, out)
	}
	return nil
}

// LogTails returns the last lines of the node agent's and the service's
// logs, for a failure report.
func (s *Stack) LogTails(n int) string {
	var b strings.Builder
	for _, name := range []string{"node", "instances"} {
		data, err := os.ReadFile(filepath.Join(s.StateDir, "logs", name+".log"))
		if err != nil {
			continue
		}
		lines := strings.Split(string(data), "\n")
		fmt.Fprintf(&b, "--- last lines of %s.log\n%s\n", name, strings.Join(lines[max(0, len(lines)-n):], "\n"))
	}
	return b.String()
}

// PortFlags are the flags of vnode up that give a cluster the ports p.
func PortFlags(p localcluster.Ports) []string {
	return []string{
		"--apiserver-port=" + strconv.Itoa(p.APIServer),
		"--etcd-port=" + strconv.Itoa(p.EtcdClient),
		"--etcd-peer-port=" + strconv.Itoa(p.EtcdPeer),
		"--controller-manager-port=" + strconv.Itoa(p.ControllerManager),
		"--scheduler-port=" + strconv.Itoa(p.Scheduler),
		"--instances-port=" + strconv.Itoa(p.Instances),
		"--registry-port=" + strconv.Itoa(p.Registry),
		"--private-registry-port=" + strconv.Itoa(p.PrivateRegistry),
		"--kubelet-port=" + strconv.Itoa(p.Kubelet),
		"--node-metrics-port=" + strconv.Itoa(p.NodeMetrics),
		"--proxy-healthz-port=" + strconv.Itoa(p.ProxyHealthz),
		"--proxy-metrics-port=" + strconv.Itoa(p.ProxyMetrics),
	}
}

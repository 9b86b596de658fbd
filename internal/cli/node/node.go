// Package node implements `vnode node`, the node agent: a virtual kubelet
// that registers a node and runs the pods bound to it on a backend.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vnode-io/vnode/internal/agent"
	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/memory"
	"github.com/vnode-io/vnode/internal/hostaddr"
	nodectl "github.com/vnode-io/vnode/internal/node"
)

type flags struct {
	kubeconfig  string
	nodeName    string
	backendName string
	port        int
	region      string
	internalIP  string
	taint       string
	noTaint     bool
	workers     int
	qps         float32
	burst       int
	metricsAddr string
	verbose     bool

	memoryStartDelay time.Duration
	memoryStopDelay  time.Duration
}

// NewCommand returns the node command.
func NewCommand() *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run the node agent: register a virtual node and run its pods on a backend",
		Long: `Run the node agent, a virtual kubelet: it registers a Node (by default
virtual-node-aci-linux, labelled and tainted as AKS's virtual node), renews its
lease, and runs every pod bound to it on a backend, writing their status back.

Without --kubeconfig it uses the in-cluster configuration. The memory backend
simulates workloads in the agent's memory, for tests, demos and benchmarks.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster configuration when empty")
	fs.StringVar(&f.nodeName, "node-name", nodectl.DefaultNodeName, "name of the Node")
	fs.StringVar(&f.backendName, "backend", "memory", "backend that runs the pods: memory or aci")
	fs.IntVar(&f.port, "port", 10250, "kubelet API port reported in the node's daemonEndpoints")
	fs.StringVar(&f.region, "region", "local", "value of the node's topology.kubernetes.io/region label")
	fs.StringVar(&f.internalIP, "internal-ip", "", "node InternalIP and pods' hostIP (default: this host's default-route address)")
	def := nodectl.DefaultTaint()
	fs.StringVar(&f.taint, "taint", def.Key+"="+def.Value+":"+string(def.Effect), "taint of the node, key=value:effect")
	fs.BoolVar(&f.noTaint, "no-taint", false, "register the node without a taint")
	fs.IntVar(&f.workers, "workers", 32, "pods synced in parallel")
	fs.Float32Var(&f.qps, "kube-api-qps", 500, "API requests per second")
	fs.IntVar(&f.burst, "kube-api-burst", 1000, "API request burst")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "127.0.0.1:10255", "address for /metrics and /healthz; empty to disable")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "log at debug level")
	fs.DurationVar(&f.memoryStartDelay, "memory-start-delay", 0, "memory backend: time from create to running")
	fs.DurationVar(&f.memoryStopDelay, "memory-stop-delay", 0, "memory backend: time containers take to stop")
	return cmd
}

func run(ctx context.Context, f *flags) error {
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	restConfig, err := loadREST(f.kubeconfig)
	if err != nil {
		return err
	}
	taint, err := parseTaint(f.taint, f.noTaint)
	if err != nil {
		return err
	}
	if f.port < 1 || f.port > 65535 {
		return fmt.Errorf("--port %d is out of range", f.port)
	}
	internalIP := f.internalIP
	if internalIP == "" {
		if ip := hostaddr.Default(); ip != nil {
			internalIP = ip.String()
		}
	}
	b, runtimeVersion, err := newBackend(f)
	if err != nil {
		return err
	}
	err = agent.Run(ctx, agent.Config{
		REST: restConfig, QPS: f.qps, Burst: f.burst,
		Backend: b, RuntimeVersion: runtimeVersion, Workers: f.workers, MetricsAddr: f.metricsAddr,
		Node: nodectl.ControllerConfig{
			NodeName: f.nodeName, Region: f.region, Taint: taint, InternalIP: internalIP, Port: int32(f.port),
		},
	})
	if ctx.Err() != nil {
		// A requested shutdown (SIGINT, SIGTERM) is a clean exit, even when
		// it interrupted the start.
		slog.Info("node agent stopped")
		return nil
	}
	return err
}

func loadREST(kubeconfig string) (*rest.Config, error) {
	if kubeconfig == "" {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("no --kubeconfig and no in-cluster configuration: %w", err)
		}
		return cfg, nil
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("--kubeconfig %s: %w", kubeconfig, err)
	}
	return cfg, nil
}

func newBackend(f *flags) (backend.Backend, string, error) {
	switch f.backendName {
	case "memory":
		b, err := memory.New(memory.Config{StartDelay: f.memoryStartDelay, StopDelay: f.memoryStopDelay})
		return b, "memory://v1", err
	case "aci":
		return nil, "", errors.New("--backend aci is not available yet: the ACI backend lands with the container instances service")
	default:
		return nil, "", fmt.Errorf("--backend must be memory or aci, not %q", f.backendName)
	}
}

// parseTaint reads key=value:effect (value optional).
func parseTaint(s string, none bool) (*corev1.Taint, error) {
	if none || s == "" {
		return nil, nil
	}
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return nil, fmt.Errorf("--taint %q: want key=value:effect", s)
	}
	key, value, _ := strings.Cut(kv, "=")
	t := &corev1.Taint{Key: key, Value: value, Effect: corev1.TaintEffect(effect)}
	switch t.Effect {
	case corev1.TaintEffectNoSchedule, corev1.TaintEffectPreferNoSchedule, corev1.TaintEffectNoExecute:
	default:
		return nil, fmt.Errorf("--taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
	}
	if key == "" {
		return nil, fmt.Errorf("--taint %q: empty key", s)
	}
	return t, nil
}

// Package node implements `vnode node`, the node agent: a virtual kubelet
// that registers a node and runs the pods bound to it on a backend.
package node

import (
	"context"
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
	"github.com/vnode-io/vnode/internal/hostaddr"
	nodectl "github.com/vnode-io/vnode/internal/node"
	"github.com/vnode-io/vnode/internal/pods"
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

	kubeletAddr    string
	kubeletCert    string
	kubeletKey     string
	kubeletCertDir string
	clientCAFile   string
	noKubeletAPI   bool

	clusterDNS    []string
	clusterDomain string
	tokenMaxAge   time.Duration

	memoryStartDelay time.Duration
	memoryStopDelay  time.Duration

	aci aciFlags
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
simulates workloads in the agent's memory, for tests, demos and benchmarks.

The kubelet API (logs, exec, attach, port-forward, /pods, /stats/summary,
/metrics/resource) is served over HTTPS on --kubelet-addr, by default on all
addresses at --port. Callers authenticate with a client certificate signed by
--client-ca-file (the API server's kubelet client certificate) or a bearer
token (TokenReview), and are authorized by SubjectAccessReview on the node's
nodes/proxy, log, stats or metrics subresource. Without --kubelet-cert and
--kubelet-key, the serving certificate is requested by a
CertificateSigningRequest for the kubernetes.io/kubelet-serving signer:
kube-controller-manager signs those once approved but never approves them, so
approve it, after checking its subject (CN=system:node:<node-name>), with
"kubectl certificate approve <csr-name>"; until then TLS handshakes fail.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), f, cmd.Flags().Changed("port"))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file; in-cluster configuration when empty")
	fs.StringVar(&f.nodeName, "node-name", nodectl.DefaultNodeName, "name of the Node")
	fs.StringVar(&f.backendName, "backend", "memory", "backend that runs the pods: memory or aci")
	fs.IntVar(&f.port, "port", 10250, "kubelet API port reported in the node's daemonEndpoints, and the default listening port")
	fs.StringVar(&f.region, "region", "local", "value of the node's topology.kubernetes.io/region label")
	fs.StringVar(&f.internalIP, "internal-ip", "", "node InternalIP and pods' hostIP (default: this host's default-route address)")
	def := nodectl.DefaultTaint()
	fs.StringVar(&f.taint, "taint", def.Key+"="+def.Value+":"+string(def.Effect), "taint of the node, key=value:effect")
	fs.BoolVar(&f.noTaint, "no-taint", false, "register the node without a taint")
	fs.IntVar(&f.workers, "workers", 32, "pods synced in parallel")
	fs.Float32Var(&f.qps, "kube-api-qps", 500, "API requests per second")
	fs.IntVar(&f.burst, "kube-api-burst", 1000, "API request burst")
	fs.StringVar(&f.metricsAddr, "metrics-addr", "127.0.0.1:10255", "address for /metrics and /healthz; empty to disable")
	fs.StringVar(&f.kubeletAddr, "kubelet-addr", "", "listening address of the kubelet API (default \":<--port>\"); with another port and no --port, that port is advertised")
	fs.StringVar(&f.kubeletCert, "kubelet-cert", "", "serving certificate of the kubelet API (PEM); requested by CSR when empty")
	fs.StringVar(&f.kubeletKey, "kubelet-key", "", "private key of --kubelet-cert (PEM)")
	fs.StringVar(&f.kubeletCertDir, "kubelet-cert-dir", "", "directory that keeps a CSR-issued serving certificate across restarts; memory only when empty")
	fs.StringVar(&f.clientCAFile, "client-ca-file", "", "CA bundle that signs accepted client certificates (the API server's kubelet client); without it only bearer tokens are accepted")
	fs.BoolVar(&f.noKubeletAPI, "no-kubelet-api", false, "do not serve the kubelet API (no logs, exec or stats through the API server)")
	fs.StringSliceVar(&f.clusterDNS, "cluster-dns", nil, "IPs of the cluster DNS service, the name servers of pods with dnsPolicy ClusterFirst (aci backend); none: such pods keep the group's resolver")
	fs.StringVar(&f.clusterDomain, "cluster-domain", "cluster.local", "the cluster's DNS domain: pods' search path and FQDNs")
	fs.DurationVar(&f.tokenMaxAge, "service-account-token-max-age", pods.DefaultTokenMaxAge, "replace a pod's projected service-account token once this old, even when far from expiry (it is replaced at 80% of its lifetime anyway)")
	fs.BoolVarP(&f.verbose, "verbose", "v", false, "log at debug level")
	fs.DurationVar(&f.memoryStartDelay, "memory-start-delay", 0, "memory backend: time from create to running")
	fs.DurationVar(&f.memoryStopDelay, "memory-stop-delay", 0, "memory backend: time containers take to stop")
	addACIFlags(fs, &f.aci)
	return cmd
}

func run(ctx context.Context, f *flags, portChanged bool) error {
	level := slog.LevelInfo
	if f.verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

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
	kubelet, port, err := kubeletConfig(f, portChanged)
	if err != nil {
		return err
	}
	b, runtimeVersion, closeBackend, err := newBackend(ctx, f, log)
	if err != nil {
		return err
	}
	defer closeBackend()
	err = agent.Run(ctx, agent.Config{
		REST: restConfig, QPS: f.qps, Burst: f.burst,
		Backend: b, RuntimeVersion: runtimeVersion, Workers: f.workers, MetricsAddr: f.metricsAddr,
		TokenMaxAge: f.tokenMaxAge,
		Logger:      log,
		Kubelet:     kubelet,
		Node: nodectl.ControllerConfig{
			NodeName: f.nodeName, Region: f.region, Taint: taint, InternalIP: internalIP, Port: port,
		},
	})
	if ctx.Err() != nil {
		// A requested shutdown (SIGINT, SIGTERM) is a clean exit, even when
		// it interrupted the start.
		log.Info("node agent stopped")
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

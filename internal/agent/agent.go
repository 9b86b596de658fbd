// Package agent assembles the node agent: an API client tuned for a busy
// node, the event recorder, the node controller, the pod controller, the
// kubelet API and the metrics endpoint, run together until the context
// ends.
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/kubeletapi"
	"github.com/vnode-io/vnode/internal/node"
	"github.com/vnode-io/vnode/internal/pods"
	"github.com/vnode-io/vnode/internal/serving"
)

// Config configures the agent.
type Config struct {
	// REST is the API server connection; QPS and Burst are overridden.
	REST *rest.Config
	// QPS and Burst of the API client; 500 and 1000 when zero, so that the
	// control plane, not the agent, limits a burst.
	QPS   float32
	Burst int
	// Backend runs the workloads.
	Backend backend.Backend
	// RuntimeVersion names the backend in the node info.
	RuntimeVersion string
	// Node configures the Node object; Client, Provider and
	// RuntimeVersion are filled in by Run.
	Node node.ControllerConfig
	// Workers for the pod controller.
	Workers int
	// TokenMaxAge is how old a pod's service-account token may grow before
	// it is replaced; pods.DefaultTokenMaxAge when zero.
	TokenMaxAge time.Duration
	// MetricsAddr serves /metrics and /healthz; none when empty.
	MetricsAddr string
	// Kubelet configures the kubelet API; see KubeletConfig.
	Kubelet KubeletConfig
	// Ready, when set, is called once the node is registered and the pod
	// controller has started.
	Ready func(Endpoints)
	// Logger receives the agent's logs, passed down to every part;
	// nothing is logged when nil.
	Logger *slog.Logger
}

// Endpoints are the addresses the agent serves at, empty when disabled.
type Endpoints struct {
	// Metrics serves /metrics and /healthz over HTTP.
	Metrics string
	// Kubelet serves the kubelet API over HTTPS.
	Kubelet string
}

// Run runs the agent until ctx ends or a part of it fails; it returns
// once every part has stopped.
func Run(ctx context.Context, cfg Config) error {
	if cfg.REST == nil || cfg.Backend == nil {
		return errors.New("agent: REST and Backend are required")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	metrics := pods.NewMetrics(reg)

	restConfig := rest.CopyConfig(cfg.REST)
	restConfig.QPS, restConfig.Burst = cfg.QPS, cfg.Burst
	if restConfig.QPS == 0 {
		restConfig.QPS = 500
	}
	if restConfig.Burst == 0 {
		restConfig.Burst = 1000
	}
	restConfig.UserAgent = "vnode-node/" + cfg.Node.NodeName
	restConfig.Wrap(metrics.WrapTransport)
	client, err := kubernetes.NewForConfig(restConfig)
	if err != nil {
		return fmt.Errorf("agent: API client: %w", err)
	}

	nodeCfg := cfg.Node
	nodeCfg.Client, nodeCfg.Provider, nodeCfg.RuntimeVersion, nodeCfg.Logger = client, cfg.Backend, cfg.RuntimeVersion, log
	// The kubelet API listens before the node registers, so that the node
	// can advertise the port it got.
	kubeletLn, err := listenKubelet(cfg.Kubelet.Addr)
	if err != nil {
		return err
	}
	if kubeletLn != nil {
		defer kubeletLn.Close()
		if nodeCfg.Port == 0 {
			nodeCfg.Port = int32(kubeletLn.Addr().(*net.TCPAddr).Port)
		}
	}
	nodes, err := node.NewController(nodeCfg)
	if err != nil {
		return err
	}
	if err := nodes.Register(ctx); err != nil {
		return err
	}

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "vnode", Host: nodes.NodeName()})

	// Limits a container leaves unset default to the node's allocatable
	// in the downward API; the backend's capacity at start stands for it.
	capacity, err := cfg.Backend.Capacity(ctx)
	if err != nil {
		return fmt.Errorf("agent: backend capacity: %w", err)
	}
	podController, err := pods.NewController(pods.ControllerConfig{
		Client: client, Backend: cfg.Backend, NodeName: nodes.NodeName(), HostIP: nodeCfg.InternalIP,
		Workers: cfg.Workers, Recorder: recorder, Metrics: metrics, TokenMaxAge: cfg.TokenMaxAge,
		Allocatable: func() corev1.ResourceList { return capacity },
		Logger:      log,
	})
	if err != nil {
		return err
	}

	endpoints := Endpoints{}
	var kubeletServer *kubeletapi.Server
	if kubeletLn != nil {
		kubeletServer, err = newKubeletServer(cfg.Kubelet, kubeletLn, kubeletParts{
			client: client, backend: cfg.Backend, pods: podController,
			nodeName: nodes.NodeName(), internalIP: nodeCfg.InternalIP, log: log,
			metrics: reg, capacity: capacity, node: nodes.Config(),
		})
		if err != nil {
			return err
		}
		endpoints.Kubelet = kubeletLn.Addr().String()
	}

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	if cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			return fmt.Errorf("agent: metrics address %s: %w", cfg.MetricsAddr, err)
		}
		endpoints.Metrics = ln.Addr().String()
		srv := metricsServer(reg)
		wg.Go(func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				errs <- fmt.Errorf("agent: metrics server: %w", err)
			}
		})
		wg.Go(func() {
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdownCtx)
		})
	}
	if kubeletServer != nil {
		wg.Go(func() {
			if err := kubeletServer.Run(ctx); err != nil {
				errs <- err
			}
		})
	}
	wg.Go(func() { nodes.Run(ctx) })
	wg.Go(func() {
		if err := podController.Run(ctx); err != nil {
			errs <- err
		}
	})
	log.Info("node agent running", "node", nodes.NodeName(), "metrics", endpoints.Metrics, "kubelet", endpoints.Kubelet)
	if cfg.Ready != nil {
		cfg.Ready(endpoints)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errs:
		cancel()
	}
	wg.Wait()
	return runErr
}

func metricsServer(reg *prometheus.Registry) *http.Server {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	return serving.NewServer(mux, serving.Limits{})
}

package kubeletapi

import (
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/authentication/authenticator"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	kubeletconfigv1beta1 "k8s.io/kubelet/config/v1beta1"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/backend"
)

// Pods gives the node's pods as the agent's informer holds them; no
// request of the kubelet API reads pods from the API server.
type Pods interface {
	// Pod returns the pod namespace/name bound to the node, or false.
	Pod(namespace, name string) (*corev1.Pod, bool)
	// Pods returns every pod bound to the node.
	Pods() []*corev1.Pod
}

// HandlerConfig configures the kubelet API's HTTP handler.
type HandlerConfig struct {
	// NodeName is the node the API serves, the name in authorization
	// checks. Required.
	NodeName string
	// Pods resolves pod names. Required.
	Pods Pods
	// Backend runs the node's workloads. Required. The container routes
	// and the resource usage need it to implement backend.ContainerIO.
	Backend backend.Backend
	// Authenticator and Authorizer check every request but /healthz.
	// Required; see NewDelegatingAuth.
	Authenticator authenticator.Request
	Authorizer    authorizer.UnconditionalAuthorizer
	// StartTime is when the node started, reported in /stats/summary; the
	// time of NewHandler when zero.
	StartTime time.Time
	// StreamIdleTimeout ends exec, attach and port-forward sessions idle
	// for that long; 4 hours (the kubelet's default) when zero.
	StreamIdleTimeout time.Duration
	// StreamCreationTimeout bounds the wait for a session's streams; 30 s
	// when zero.
	StreamCreationTimeout time.Duration
	// Clock stamps the resource usage; the real clock when nil.
	Clock clock.PassiveClock
	// Logger receives refused requests and interrupted streams; nothing is
	// logged when nil.
	Logger *slog.Logger
	// Metrics are the agent's own metrics, served at /metrics with the
	// kubelet's; only the kubelet's when nil.
	Metrics prometheus.Gatherer
	// Capacity is the node's capacity, the machine in /metrics/cadvisor;
	// none when nil.
	Capacity func() corev1.ResourceList
	// Configz is the node's configuration served at /configz; 404 when nil.
	Configz *kubeletconfigv1beta1.KubeletConfiguration
}

func (c *HandlerConfig) defaults() error {
	if c.NodeName == "" || c.Pods == nil || c.Backend == nil || c.Authenticator == nil || c.Authorizer == nil {
		return errors.New("kubeletapi: NodeName, Pods, Backend, Authenticator and Authorizer are required")
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.StartTime.IsZero() {
		c.StartTime = c.Clock.Now()
	}
	if c.StreamIdleTimeout == 0 {
		c.StreamIdleTimeout = 4 * time.Hour
	}
	if c.StreamCreationTimeout == 0 {
		c.StreamCreationTimeout = 30 * time.Second
	}
	return nil
}

// handler serves the routes; its methods are in one file per route.
type handler struct {
	cfg HandlerConfig
	// io is the backend's ContainerIO, or nil.
	io backend.ContainerIO
}

// NewHandler returns the kubelet API: /healthz for anyone, every other
// route for authenticated and authorized callers.
func NewHandler(cfg HandlerConfig) (http.Handler, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	h := &handler{cfg: cfg}
	h.io, _ = cfg.Backend.(backend.ContainerIO)

	api := http.NewServeMux()
	api.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", h.containerLogs)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		api.HandleFunc(method+" /exec/{namespace}/{pod}/{container}", h.exec)
		api.HandleFunc(method+" /exec/{namespace}/{pod}/{uid}/{container}", h.exec)
		api.HandleFunc(method+" /attach/{namespace}/{pod}/{container}", h.attach)
		api.HandleFunc(method+" /attach/{namespace}/{pod}/{uid}/{container}", h.attach)
		api.HandleFunc(method+" /portForward/{namespace}/{pod}", h.portForward)
		api.HandleFunc(method+" /portForward/{namespace}/{pod}/{uid}", h.portForward)
	}
	api.HandleFunc("GET /pods", h.pods)
	api.HandleFunc("GET /pods/", h.pods)
	api.HandleFunc("GET /runningpods", h.runningPods)
	api.HandleFunc("GET /runningpods/", h.runningPods)
	api.HandleFunc("GET /stats/summary", h.statsSummary)
	api.HandleFunc("GET /metrics/resource", h.resourceMetrics)
	api.HandleFunc("GET /metrics/cadvisor", h.cadvisorMetrics)
	api.HandleFunc("GET /metrics/probes", h.proberMetrics)
	api.HandleFunc("GET /metrics", h.metrics)
	api.HandleFunc("GET /configz", h.configz)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("/", withAuth(api, cfg.Authenticator, cfg.Authorizer, cfg.NodeName, cfg.Logger))
	return mux, nil
}

// healthz answers ok: the agent is up. Like the kubelet's healthz port,
// it needs no credentials and reveals nothing else.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

// containerIO returns the backend's ContainerIO, or answers 501.
func (h *handler) containerIO(w http.ResponseWriter, what string) (backend.ContainerIO, bool) {
	if h.io == nil {
		http.Error(w, what+" is not supported: this node's backend does not reach into containers (no logs, exec, attach, port-forward or stats)", http.StatusNotImplemented)
		return nil, false
	}
	return h.io, true
}

// pod returns the pod the request's path names, or answers 404. A uid in
// the path must match the pod's.
func (h *handler) pod(w http.ResponseWriter, r *http.Request) (*corev1.Pod, bool) {
	ns, name := r.PathValue("namespace"), r.PathValue("pod")
	pod, ok := h.cfg.Pods.Pod(ns, name)
	if !ok || (r.PathValue("uid") != "" && string(pod.UID) != r.PathValue("uid")) {
		http.Error(w, "pod "+ns+"/"+name+" does not exist on this node", http.StatusNotFound)
		return nil, false
	}
	return pod, true
}

// container checks that the pod has the path's container, or answers 404.
func container(w http.ResponseWriter, r *http.Request, pod *corev1.Pod) (string, bool) {
	name := r.PathValue("container")
	for _, list := range [][]corev1.Container{pod.Spec.Containers, pod.Spec.InitContainers} {
		for _, c := range list {
			if c.Name == name {
				return name, true
			}
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return name, true
		}
	}
	http.Error(w, "container "+name+" not found in pod "+pod.Namespace+"/"+pod.Name, http.StatusNotFound)
	return "", false
}

func podRef(pod *corev1.Pod) backend.PodRef {
	return backend.PodRef{UID: pod.UID, Namespace: pod.Namespace, Name: pod.Name}
}

// containerTarget finds what a request on one container is about: the pod
// and container named by the path (404) and the backend's ContainerIO
// (501), answering the error itself when it returns false.
func (h *handler) containerTarget(w http.ResponseWriter, r *http.Request, what string) (*corev1.Pod, string, backend.ContainerIO, bool) {
	pod, ok := h.pod(w, r)
	if !ok {
		return nil, "", nil, false
	}
	name, ok := container(w, r, pod)
	if !ok {
		return nil, "", nil, false
	}
	cio, ok := h.containerIO(w, what)
	if !ok {
		return nil, "", nil, false
	}
	return pod, name, cio, true
}

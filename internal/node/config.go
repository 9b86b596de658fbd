package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/clock"
)

// Provider is what the node needs from a backend.
type Provider interface {
	Capacity(ctx context.Context) (corev1.ResourceList, error)
	Health(ctx context.Context) error
}

// Defaults that match the kubelet and AKS virtual nodes.
const (
	DefaultNodeName      = "virtual-node-aci-linux"
	DefaultLeaseDuration = 40 * time.Second
	DefaultRenewInterval = 10 * time.Second
	// DefaultStatusInterval bounds how old the node's status may get.
	DefaultStatusInterval = time.Minute
	// DefaultHealthInterval is how often the backend's health and
	// capacity are checked; a change updates the status at once.
	DefaultHealthInterval = 5 * time.Second
)

// DefaultTaint is the taint AKS puts on its virtual node.
func DefaultTaint() corev1.Taint {
	return corev1.Taint{Key: "virtual-kubelet.io/provider", Value: "azure", Effect: corev1.TaintEffectNoSchedule}
}

// ControllerConfig configures a Controller.
type ControllerConfig struct {
	Client   kubernetes.Interface
	Provider Provider
	// NodeName defaults to DefaultNodeName.
	NodeName string
	// Region is the value of topology.kubernetes.io/region.
	Region string
	// Labels are added to the node's standard labels.
	Labels map[string]string
	// Taint is put on the node unless nil.
	Taint *corev1.Taint
	// InternalIP is the address the API server reaches the kubelet API at.
	InternalIP string
	// Port is the kubelet API port (daemonEndpoints); 10250 when zero.
	Port int32
	// RuntimeVersion is nodeInfo.containerRuntimeVersion, e.g. memory://v1.
	RuntimeVersion string

	LeaseDuration  time.Duration
	RenewInterval  time.Duration
	StatusInterval time.Duration
	HealthInterval time.Duration
	// RetryInterval is the first wait after a failed registration; 1 s
	// when zero.
	RetryInterval time.Duration
	Clock         clock.WithTicker
	// Logger receives failed registrations and renewals; nothing is logged
	// when nil.
	Logger *slog.Logger
}

func (c *ControllerConfig) defaults() error {
	if c.Client == nil || c.Provider == nil {
		return errors.New("node: Client and Provider are required")
	}
	if c.NodeName == "" {
		c.NodeName = DefaultNodeName
	}
	if c.Port == 0 {
		c.Port = 10250
	}
	if c.Port < 1 || c.Port > 65535 {
		return fmt.Errorf("node: kubelet port %d is out of range", c.Port)
	}
	if c.LeaseDuration == 0 {
		c.LeaseDuration = DefaultLeaseDuration
	}
	if c.RenewInterval == 0 {
		c.RenewInterval = DefaultRenewInterval
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if c.HealthInterval == 0 {
		c.HealthInterval = DefaultHealthInterval
	}
	if c.RetryInterval == 0 {
		c.RetryInterval = time.Second
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

package aci

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/backend/aci/imageconfig"
	"github.com/vnode-io/vnode/internal/wire"
)

// Config configures the ACI backend. Subscription, ResourceGroup, Location,
// NodeName and Credential are required; the rest have defaults.
type Config struct {
	// Credential authenticates to Azure Resource Manager.
	Credential azcore.TokenCredential
	// ClientOptions point the SDK at the service (cloud endpoint,
	// transport). nil: public Azure. Retries left at zero get the
	// backend's defaults (4 retries, 1 s doubling to 60 s, honouring
	// Retry-After on 408, 429, 500, 502, 503, 504).
	ClientOptions *arm.ClientOptions
	// CAFile verifies exec and attach sessions of vnode's service over
	// Kubernetes' remote command protocol; empty: the system's roots.
	CAFile string

	Subscription  string
	ResourceGroup string
	Location      string
	// NodeName is the virtual node's name: groups are tagged with it, and
	// only groups with this tag are adopted.
	NodeName string
	// SubnetIDs, when set, put every group in these subnets (an Azure VNet).
	SubnetIDs []string
	// DNS is the cluster DNS for ClusterFirst pods and the cluster domain;
	// no servers: such pods use ACI's resolver.
	DNS DNS

	// MinGroupCPU and MinGroupMemoryGB are the least a group requests
	// (ACI's rule: 1 and 1; negative: no minimum).
	MinGroupCPU, MinGroupMemoryGB float64
	// MemoryPerCPU is the node's memory capacity per core of the
	// StandardCores quota (4 GiB when zero: ACI's Linux groups offer up to
	// 4 GB per core).
	MemoryPerCPU int64

	// ReadsPerSecond and ReadBurst bound the backend's polling reads
	// (10 and 20 when zero; ARM allows about 25/s sustained).
	ReadsPerSecond float64
	ReadBurst      int
	// FastPoll is the poll interval while a group changes or a create or
	// delete is in flight (250 ms); SlowPoll while all are steady (5 s).
	FastPoll, SlowPoll time.Duration
	// SteadyRefresh is how often a steady group is read again when the
	// service cannot list instance views (60 s).
	SteadyRefresh time.Duration
	// CapabilitiesTTL is how long the location's capabilities are cached (5 min).
	CapabilitiesTTL time.Duration
	// ImagePullBackOff is the first wait before a group that failed (its
	// image pull, or its containers lost) is deployed again (10 s, doubling
	// up to 5 minutes, as the kubelet's image and crash back-offs).
	ImagePullBackOff time.Duration

	// ImageConfigs reads the entrypoint of a container's image from its
	// registry when the container sets args without a command and the
	// service cannot take them apart (Azure); nil: a resolver with its
	// defaults.
	ImageConfigs *imageconfig.Resolver

	// Logger receives the backend's logs; nothing is logged when nil.
	Logger *slog.Logger
	Clock  clock.WithTicker
}

// defaults fills unset fields and checks required ones.
func (c *Config) defaults() error {
	var missing []error
	for _, f := range []struct{ name, value string }{{"Subscription", c.Subscription},
		{"ResourceGroup", c.ResourceGroup}, {"Location", c.Location}, {"NodeName", c.NodeName}} {
		if f.value == "" {
			missing = append(missing, fmt.Errorf("aci backend: %s is required", f.name))
		}
	}
	if c.Credential == nil {
		missing = append(missing, errors.New("aci backend: Credential is required"))
	}
	if err := errors.Join(missing...); err != nil {
		return err
	}
	setF := func(v *float64, d float64) {
		if *v == 0 {
			*v = d
		}
	}
	setD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	setF(&c.MinGroupCPU, 1)
	setF(&c.MinGroupMemoryGB, 1)
	setF(&c.ReadsPerSecond, 10)
	if c.ReadBurst <= 0 {
		c.ReadBurst = 20
	}
	if c.MemoryPerCPU <= 0 {
		c.MemoryPerCPU = 4 << 30
	}
	setD(&c.FastPoll, 250*time.Millisecond)
	setD(&c.SlowPoll, 5*time.Second)
	setD(&c.SteadyRefresh, time.Minute)
	setD(&c.CapabilitiesTTL, 5*time.Minute)
	setD(&c.ImagePullBackOff, 10*time.Second)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Clock == nil {
		c.Clock = clock.RealClock{}
	}
	if c.ImageConfigs == nil {
		c.ImageConfigs = imageconfig.New(imageconfig.Options{Logger: c.Logger.With("component", "imageconfig")})
	}
	return nil
}

// clientOptions returns a copy of the configured options with the
// backend's retry defaults and its extension policy.
func (c *Config) clientOptions(ext *extensions) *arm.ClientOptions {
	var o arm.ClientOptions
	if c.ClientOptions != nil {
		o = *c.ClientOptions
	}
	r := &o.Retry
	if r.MaxRetries == 0 {
		r.MaxRetries = 4
	}
	if r.RetryDelay == 0 {
		r.RetryDelay = time.Second
	}
	if r.MaxRetryDelay == 0 {
		r.MaxRetryDelay = time.Minute
	}
	o.PerCallPolicies = append(append([]policy.Policy(nil), o.PerCallPolicies...), extPolicy{ext: ext})
	return &o
}

// FromFiles returns the configuration of a backend driving the container
// instances service described by client files (DIR/instances/ of `vnode
// up`) for node.
func FromFiles(f wire.ClientFiles, node string) (Config, error) {
	opts, err := f.ARMOptions(0)
	if err != nil {
		return Config{}, fmt.Errorf("aci backend: %w", err)
	}
	return Config{Credential: wire.StaticToken(f.Token), ClientOptions: opts, CAFile: f.CAFile,
		Subscription: f.Subscription, ResourceGroup: f.ResourceGroup, Location: f.Location, NodeName: node}, nil
}

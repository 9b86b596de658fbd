package aci

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"golang.org/x/time/rate"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vnode-io/vnode/internal/backend"
)

// SDK module identity for the raw pipeline's telemetry.
const (
	moduleName    = "armcontainerinstance"
	moduleVersion = "v2.4.0"
)

// Backend runs pods as container groups. It is safe for concurrent use.
type Backend struct {
	backend.Dispatcher
	cfg Config
	log *slog.Logger
	ext *extensions

	groups     *aci.ContainerGroupsClient
	containers *aci.ContainersClient
	location   *aci.LocationClient
	// pipeline and endpoint serve the calls the SDK has no method for,
	// with the SDK's authentication, retries and transport.
	pipeline azruntime.Pipeline
	endpoint string

	reads *rate.Limiter
	caps  capabilitiesCache
	kick  chan struct{}

	// pollMu serialises polls (the poller's and List's first).
	pollMu sync.Mutex
	// lastList is when the last complete list began (poller only).
	lastList time.Time

	mu      sync.Mutex
	entries map[types.UID]*entry
	// synced is set after the first complete poll: List answers from memory.
	synced bool

	stop context.CancelFunc
	done chan struct{}
}

var (
	_ backend.Backend       = (*Backend)(nil)
	_ backend.ContainerIO   = (*Backend)(nil)
	_ backend.Stopper       = (*Backend)(nil)
	_ backend.VolumeUpdater = (*Backend)(nil)
)

// New returns a backend and starts its poller, which runs until ctx ends
// or Close is called. It makes no request: a service that is down shows as
// Health errors and retryable errors of List and Create.
func New(ctx context.Context, cfg Config) (*Backend, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	ext := &extensions{}
	opts := cfg.clientOptions(ext)
	factory, err := aci.NewClientFactory(cfg.Subscription, cfg.Credential, opts)
	if err != nil {
		return nil, fmt.Errorf("aci backend: SDK client: %w", err)
	}
	raw, err := arm.NewClient(moduleName, moduleVersion, cfg.Credential, opts)
	if err != nil {
		return nil, fmt.Errorf("aci backend: ARM client: %w", err)
	}
	b := &Backend{
		cfg: cfg, log: cfg.Logger.With("backend", "aci"), ext: ext,
		groups: factory.NewContainerGroupsClient(), containers: factory.NewContainersClient(),
		location: factory.NewLocationClient(), pipeline: raw.Pipeline(), endpoint: raw.Endpoint(),
		reads:   rate.NewLimiter(rate.Limit(cfg.ReadsPerSecond), cfg.ReadBurst),
		kick:    make(chan struct{}, 1),
		entries: map[types.UID]*entry{},
		done:    make(chan struct{}),
	}
	ctx, b.stop = context.WithCancel(ctx)
	go func() {
		defer close(b.done)
		b.run(ctx)
	}()
	return b, nil
}

// Close stops the poller and waits for it. Groups keep running.
func (b *Backend) Close() error {
	b.stop()
	<-b.done
	return nil
}

// wake makes the poller poll soon.
func (b *Backend) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// groupPath is the ARM path of a group in the configured resource group.
func (b *Backend) groupPath(name string) string {
	return "/subscriptions/" + b.cfg.Subscription + "/resourceGroups/" + b.cfg.ResourceGroup +
		"/providers/Microsoft.ContainerInstance/containerGroups/" + name
}

// Package app assembles the container instances service from its
// configuration: the store, secret sealer, runtime, service core, HTTPS
// server with its certificate, and metrics. `vnode instances serve` and the
// tests run it through Start.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/utils/clock"

	"github.com/vnode-io/vnode/internal/instances/api"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/containerd"
	"github.com/vnode-io/vnode/internal/instances/network"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/runtime/cri"
	"github.com/vnode-io/vnode/internal/instances/runtime/fake"
	"github.com/vnode-io/vnode/internal/instances/sealer"
	"github.com/vnode-io/vnode/internal/instances/service"
	"github.com/vnode-io/vnode/internal/instances/store"
	"github.com/vnode-io/vnode/internal/instances/throttle"
	"github.com/vnode-io/vnode/internal/pki"
	"github.com/vnode-io/vnode/internal/serving"
)

// Options are what Start needs besides the configuration.
type Options struct {
	// Runtime overrides the configured runtime (tests share one fake
	// runtime across service restarts, as containerd outlives the service).
	Runtime runtime.Runtime
	// Logger receives the service's logs, passed down to every part;
	// nothing is logged when nil.
	Logger *slog.Logger
	Clock  clock.WithTicker
}

// Instance is a running service.
type Instance struct {
	// URL is the service's base URL, https://host:port.
	URL string
	// CAFile is the certificate authority clients must trust.
	CAFile string
	server *http.Server
	api    *api.Server
	svc    *service.Service
	store  *store.Store
	rt     runtime.Runtime
	ownsRT bool
	// closers stop what newRuntime started, after the runtime is closed.
	closers  []func()
	serveErr chan error
	close    sync.Once
	closeErr error
}

// Start opens the state, recovers, and serves HTTPS on cfg.Listen. It
// returns once requests are served.
func Start(ctx context.Context, cfg config.Config, o Options) (*Instance, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = clock.RealClock{}
	}
	tokens, err := api.LoadTokens(cfg.TokensFile)
	if err != nil {
		return nil, err
	}
	seal, err := sealer.LoadOrCreate(cfg.SecretKeyFile)
	if err != nil {
		return nil, err
	}
	tlsCfg, caFile, err := serverTLS(cfg, o.Clock.Now())
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	base := cfg.AdvertiseURL
	if base == "" {
		base = "https://" + advertiseAddr(ln.Addr().(*net.TCPAddr))
	}
	limiter := throttle.New(cfg.RateLimits, o.Clock)
	inst := &Instance{URL: base, CAFile: caFile, rt: o.Runtime, serveErr: make(chan error, 1)}
	if err := inst.open(ctx, cfg, o, seal, limiter); err != nil {
		_ = ln.Close()
		inst.closeState()
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		inst.svc.Collector())
	srv := api.New(api.Options{Service: inst.svc, Tokens: tokens, Limiter: limiter, BaseURL: base,
		Logger: o.Logger, Registry: reg})
	inst.api = srv
	inst.server = serving.NewServer(srv.Handler(), cfg.HTTP.Limits())
	inst.server.TLSConfig = tlsCfg
	inst.server.ErrorLog = slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug)
	go func() { inst.serveErr <- inst.server.ServeTLS(ln, "", "") }()
	o.Logger.Info("container instances service ready", "url", base, "runtime", cfg.Runtime,
		"locations", len(cfg.Locations), "dataDir", cfg.DataDir)
	return inst, nil
}

func (inst *Instance) open(ctx context.Context, cfg config.Config, o Options, seal *sealer.Sealer, limiter *throttle.Limiter) error {
	st, err := store.Open(ctx, cfg.DataDir)
	if err != nil {
		return err
	}
	inst.store = st
	if inst.rt == nil {
		rt, closers, err := newRuntime(ctx, cfg, o, seal)
		inst.closers = closers
		if err != nil {
			return err
		}
		inst.rt, inst.ownsRT = rt, true
	}
	inst.svc = service.New(service.Options{Config: cfg, Store: st, Runtime: inst.rt, Sealer: seal,
		Limiter: limiter, Clock: o.Clock, Logger: o.Logger})
	if err := inst.svc.Open(ctx); err != nil {
		return fmt.Errorf("recover state: %w", err)
	}
	return nil
}

// newRuntime starts the configured runtime; the closers undo what it
// started (also when it fails half-way).
func newRuntime(ctx context.Context, cfg config.Config, o Options, seal *sealer.Sealer) (runtime.Runtime, []func(), error) {
	switch cfg.Runtime {
	case "fake":
		return fake.New(fake.Options{Clock: o.Clock}), nil, nil
	case "containerd":
		return startContainerd(ctx, cfg, o, seal)
	default:
		return nil, nil, fmt.Errorf("runtime %q is not available (known: fake, containerd)", cfg.Runtime)
	}
}

// startContainerd runs the service's own containerd with the groups'
// network, or connects to the one configured, and the CRI runtime on it.
// Stopping it later leaves the groups running: the next start re-attaches
// to them.
func startContainerd(ctx context.Context, cfg config.Config, o Options, seal *sealer.Sealer) (runtime.Runtime, []func(), error) {
	c := cfg.Containerd
	if c.Endpoint != "" {
		d, err := containerd.Connect(ctx, c.Endpoint)
		if err != nil {
			return nil, nil, err
		}
		closers := []func(){func() { _ = d.Stop(context.Background()) }}
		rt, err := newCRIRuntime(ctx, cfg, d, o, seal)
		return rt, closers, err
	}
	cniDir := filepath.Join(cfg.DataDir, "cni")
	netCfg, err := network.Config{Bridge: c.Bridge, Subnet: c.Subnet, IPAMDir: filepath.Join(cfg.DataDir, "ipam")}.Resolved()
	if err != nil {
		return nil, nil, err
	}
	if err := network.CheckHostSubnetFree(netCfg.Bridge, netCfg.Subnet); err != nil {
		return nil, nil, err
	}
	if err := network.WriteCNIConfig(cniDir, netCfg); err != nil {
		return nil, nil, err
	}
	d, err := containerd.Start(ctx, containerdConfig(cfg))
	if err != nil {
		return nil, nil, err
	}
	closers := []func(){func() {
		sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := d.Stop(sctx); err != nil {
			o.Logger.Warn("stop containerd", "err", err)
		}
	}}
	if _, err := d.ImageClient().PullImage(ctx, &runtimeapi.PullImageRequest{
		Image: &runtimeapi.ImageSpec{Image: c.SandboxImage}}); err != nil {
		return nil, closers, fmt.Errorf("pull the sandbox image %s: %w", c.SandboxImage, err)
	}
	rt, err := newCRIRuntime(ctx, cfg, d, o, seal)
	return rt, closers, err
}

// newCRIRuntime runs the groups through d's CRI services.
func newCRIRuntime(ctx context.Context, cfg config.Config, d *containerd.Containerd, o Options, seal *sealer.Sealer) (runtime.Runtime, error) {
	c := cfg.Containerd
	logMaxSize, err := c.ContainerLogMaxSize.Bytes()
	if err != nil {
		return nil, fmt.Errorf("containerd.containerLogMaxSize: %w", err)
	}
	return cri.New(ctx, cri.Options{Runtime: d.RuntimeClient(), Images: d.ImageClient(),
		Dir: filepath.Join(cfg.DataDir, "runtime"), StopTimeout: time.Duration(c.StopTimeoutSeconds) * time.Second,
		LogMaxSize: logMaxSize, LogMaxFiles: c.ContainerLogMaxFiles, Clock: o.Clock, Logger: o.Logger, Sealer: seal})
}

// Wait blocks until the server fails or ctx ends.
func (inst *Instance) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-inst.serveErr:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve: %w", err)
	}
}

// Close stops serving (giving requests in flight a few seconds) and closes
// the state. Groups keep running in the runtime unless this instance
// created the runtime itself.
func (inst *Instance) Close() error {
	inst.close.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if inst.api != nil {
			inst.api.CloseStreams()
		}
		inst.closeErr = inst.server.Shutdown(ctx)
		inst.closeState()
	})
	return inst.closeErr
}

func (inst *Instance) closeState() {
	if inst.svc != nil {
		inst.svc.Close()
	}
	if inst.ownsRT && inst.rt != nil {
		_ = inst.rt.Close()
	}
	for _, c := range inst.closers {
		c()
	}
	if inst.store != nil {
		_ = inst.store.Close()
	}
}

// serverTLS loads the configured certificate, or creates (and later
// reuses) a CA and serving certificate under DataDir/tls.
func serverTLS(cfg config.Config, now time.Time) (*tls.Config, string, error) {
	if cfg.TLSCertFile != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, "", fmt.Errorf("load TLS certificate: %w", err)
		}
		tlsCfg := serving.TLSConfig()
		tlsCfg.Certificates = []tls.Certificate{pair}
		return tlsCfg, "", nil
	}
	dir := filepath.Join(cfg.DataDir, "tls")
	ca, err := pki.Load(dir, "ca")
	if err != nil {
		if ca, err = pki.NewCA("vnode-instances-ca", 10*365*24*time.Hour, now); err != nil {
			return nil, "", err
		}
		if err := ca.Write(dir, "ca"); err != nil {
			return nil, "", err
		}
	}
	spec := servingSpec(cfg.Listen)
	leaf, err := pki.Load(dir, "serving")
	if err != nil || !leaf.Matches(spec, ca, now, 30*24*time.Hour) {
		if leaf, err = ca.Issue(spec, now); err != nil {
			return nil, "", err
		}
		if err := leaf.Write(dir, "serving"); err != nil {
			return nil, "", err
		}
	}
	pair := tls.Certificate{Certificate: [][]byte{leaf.Cert.Raw, ca.Cert.Raw}, PrivateKey: leaf.Key, Leaf: leaf.Cert}
	tlsCfg := serving.TLSConfig()
	tlsCfg.Certificates = []tls.Certificate{pair}
	return tlsCfg, filepath.Join(dir, "ca.crt"), nil
}

func servingSpec(listen string) pki.Spec {
	spec := pki.Spec{CommonName: "vnode-instances", DNSNames: []string{"localhost"},
		IPs: []net.IP{net.ParseIP("127.0.0.1")}, Usages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		Validity: 365 * 24 * time.Hour}
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return spec
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.Equal(spec.IPs[0]) && !ip.IsUnspecified() {
			spec.IPs = append(spec.IPs, ip)
		}
	} else if host != "localhost" {
		spec.DNSNames = append(spec.DNSNames, host)
	}
	return spec
}

// advertiseAddr is host:port for clients; a wildcard listener is reached on loopback.
func advertiseAddr(a *net.TCPAddr) string {
	ip := a.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return net.JoinHostPort(ip.String(), fmt.Sprint(a.Port))
}

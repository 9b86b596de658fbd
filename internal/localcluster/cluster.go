package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/vnode-io/vnode/internal/hostaddr"
	"github.com/vnode-io/vnode/internal/pki"
	"github.com/vnode-io/vnode/internal/process"
)

// Cluster is a local control plane run by this process.
type Cluster struct {
	cfg    Config
	layout layout

	mu       sync.Mutex
	lock     *os.File
	procs    []*process.Process
	stopping bool
	failed   chan struct{}
	failErr  error
}

// New validates cfg and returns a cluster ready to Start.
func New(cfg Config) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Cluster{cfg: cfg, layout: layout{cfg.StateDir}, failed: make(chan struct{})}, nil
}

// Config returns the configuration with defaults filled in; after Start it
// also holds the advertise address in use.
func (c *Cluster) Config() Config { return c.cfg }

// Kubeconfig returns the path of the admin kubeconfig.
func (c *Cluster) Kubeconfig() string { return c.layout.adminKubeconfig() }

// RESTConfig returns a client configuration with admin rights.
func (c *Cluster) RESTConfig() (*rest.Config, error) {
	return clientcmd.BuildConfigFromFlags("", c.Kubeconfig())
}

// Failed is closed when a component exits while the cluster runs; Err
// then says which and why.
func (c *Cluster) Failed() <-chan struct{} { return c.failed }

// Err returns why the cluster failed, or nil.
func (c *Cluster) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failErr
}

// Start prepares the state directory and starts each component, waiting
// until it is ready before starting the next. On error, everything it
// started is stopped again.
func (c *Cluster) Start(ctx context.Context) (retErr error) {
	began := time.Now()
	l, cfg := c.layout, c.cfg
	if err := prepareStateDir(l.root); err != nil {
		return err
	}
	fmt.Fprintf(cfg.Out, "state directory %s\n", l.root)
	lock, err := acquireLock(l)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.lock = lock
	c.mu.Unlock()
	defer func() {
		if retErr != nil {
			c.Stop()
		}
	}()
	if err := checkPortsFree(cfg.ports()); err != nil {
		return err
	}
	if withKubeProxy(cfg) {
		if err := checkNoKubeProxy(); err != nil {
			return err
		}
		if err := ensureBridgeNetfilter(); err != nil {
			return err
		}
	}
	advertise, err := resolveAdvertiseAddress(cfg.AdvertiseAddress)
	if err != nil {
		return err
	}
	c.cfg.AdvertiseAddress = advertise.String()
	if err := c.prepareFiles(ctx, advertise); err != nil {
		return err
	}
	for _, comp := range components(l, c.cfg, advertise) {
		if err := c.startComponent(ctx, comp); err != nil {
			return err
		}
		switch comp.name {
		case "kube-apiserver":
			if err := bootstrap(ctx, c); err != nil {
				return err
			}
		case privateRegistryName:
			if err := c.seedImages(ctx); err != nil {
				return err
			}
		case instancesName:
			if err := writeInstancesClient(l, c.cfg); err != nil {
				return err
			}
		case nodeComponentName:
			if err := labelNode(ctx, c); err != nil {
				return err
			}
		case kubeProxyName:
			if err := deployDNS(ctx, c); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(cfg.Out, "cluster ready in %s\n", time.Since(began).Round(100*time.Millisecond))
	return nil
}

// prepareFiles writes certificates, keys, kubeconfigs and configuration.
func (c *Cluster) prepareFiles(ctx context.Context, advertise net.IP) error {
	l := c.layout
	report, err := ensureCerts(planCerts(l, c.cfg, advertise), time.Now())
	if err != nil {
		return err
	}
	if err := ensureServiceAccountKey(l); err != nil {
		return err
	}
	switch {
	case report.newCAs > 0:
		fmt.Fprintf(c.cfg.Out, "created certificate authorities and %d certificates in %s\n", report.issued, l.pki())
	case report.issued > 0:
		fmt.Fprintf(c.cfg.Out, "reused the certificate authorities, issued %d certificates\n", report.issued)
	default:
		fmt.Fprintf(c.cfg.Out, "reused the certificates in %s\n", l.pki())
	}
	if err := writeKubeconfig(l, l.adminKubeconfig(), "admin", c.cfg.Ports.APIServer); err != nil {
		return err
	}
	users := []string{"controller-manager", "scheduler"}
	if c.cfg.VnodeBinary != "" {
		users = append(users, "node")
	}
	if withKubeProxy(c.cfg) {
		users = append(users, "kube-proxy")
		if err := writeKubeProxyConfig(l, c.cfg); err != nil {
			return err
		}
	}
	for _, user := range users {
		if err := writeKubeconfig(l, l.kubeconfig(user), user, c.cfg.Ports.APIServer); err != nil {
			return err
		}
	}
	if err := writeSchedulerConfig(l); err != nil {
		return err
	}
	if c.cfg.VnodeBinary != "" {
		if c.cfg.Runtime == RuntimeContainerd {
			if err := writeRegistryFiles(ctx, l, c.cfg); err != nil {
				return err
			}
		}
		if err := writeInstancesConfig(l, c.cfg); err != nil {
			return err
		}
	}
	return saveConfig(l, c.cfg)
}

// startComponent starts comp and waits until its probe passes, the
// process exits, or the ready timeout passes.
func (c *Cluster) startComponent(ctx context.Context, comp component) error {
	began := time.Now()
	p, err := process.Start(process.Spec{
		Name:    comp.name,
		Path:    comp.binary,
		Args:    comp.args,
		LogPath: c.layout.logFile(comp.name),
		PidPath: c.layout.pidFile(comp.name),
	})
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.procs = append(c.procs, p)
	c.mu.Unlock()
	go c.watch(p)

	if err := waitReady(ctx, comp, p, c.cfg.ReadyTimeout); err != nil {
		return err
	}
	fmt.Fprintf(c.cfg.Out, "%-24s ready in %-6s pid %-7d log %s\n", comp.name, time.Since(began).Round(100*time.Millisecond), p.Pid(), p.LogPath())
	return nil
}

// waitReady polls comp's probe until it passes.
func waitReady(ctx context.Context, comp component, p *process.Process, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client, err := comp.probe.client()
	if err != nil {
		return err
	}
	interval := 50 * time.Millisecond
	for {
		lastErr := comp.probe.check(ctx, client)
		if lastErr == nil {
			return nil
		}
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited while starting (%v); last lines of %s:\n%s",
				comp.name, p.Err(), p.LogPath(), process.Tail(p.LogPath(), 15))
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("%s not ready after %s (%v); see %s", comp.name, timeout, lastErr, p.LogPath())
			}
			return fmt.Errorf("start %s: %w", comp.name, ctx.Err())
		case <-time.After(interval):
		}
		interval = min(2*interval, 500*time.Millisecond)
	}
}

// watch records the first component that exits while the cluster is not
// being stopped.
func (c *Cluster) watch(p *process.Process) {
	<-p.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopping || c.failErr != nil {
		return
	}
	c.failErr = fmt.Errorf("%s exited unexpectedly (%v); last lines of %s:\n%s",
		p.Name(), p.Err(), p.LogPath(), process.Tail(p.LogPath(), 15))
	close(c.failed)
}

// Stop stops every component in the reverse order of their start and
// releases the state directory. Calling it again does nothing.
func (c *Cluster) Stop() {
	c.mu.Lock()
	c.stopping = true
	procs := c.procs
	c.procs = nil
	lock := c.lock
	c.lock = nil
	c.mu.Unlock()
	for i := len(procs) - 1; i >= 0; i-- {
		procs[i].Stop(c.cfg.StopGrace)
	}
	if len(procs) > 0 {
		// The service leaves its groups running when it stops (to
		// re-attach after a restart); the cluster stopping ends them.
		if err := removeGroups(c.layout, c.cfg); err != nil {
			fmt.Fprintf(c.cfg.Out, "warning: %v\n", err)
		}
		if withKubeProxy(c.cfg) {
			if err := cleanupKubeProxy(c.cfg); err != nil {
				fmt.Fprintf(c.cfg.Out, "warning: %v\n", err)
			}
		}
	}
	if lock != nil {
		releaseLock(c.layout, lock)
	}
}

// Processes describes the running components.
func (c *Cluster) Processes() []ProcessInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []ProcessInfo
	for _, p := range c.procs {
		out = append(out, ProcessInfo{Name: p.Name(), Pid: p.Pid(), LogPath: p.LogPath()})
	}
	return out
}

// ProcessInfo identifies a component's process.
type ProcessInfo struct {
	Name    string
	Pid     int
	LogPath string
}

// prepareStateDir creates the state directory and proves it writable.
func prepareStateDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state directory %s is not usable: %w", dir, err)
	}
	probe, err := os.CreateTemp(dir, ".write-test-*")
	if err != nil {
		return fmt.Errorf("state directory %s is not writable: %w", dir, err)
	}
	probe.Close()
	return os.Remove(probe.Name())
}

func saveConfig(l layout, cfg Config) error {
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("encode cluster configuration: %w", err)
	}
	return pki.WriteFile(l.configFile(), append(data, '\n'), 0o644)
}

// LoadConfig reads the configuration a cluster in stateDir was last
// started with, so that `up` can reuse it and `status` and `down` can find
// the cluster's processes.
func LoadConfig(stateDir string) (Config, error) {
	l := layout{stateDir}
	data, err := os.ReadFile(l.configFile())
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, fmt.Errorf("no cluster in %s (start one with `vnode up --state-dir %s`): %w", stateDir, stateDir, err)
	}
	if err != nil {
		return Config{}, fmt.Errorf("read cluster configuration: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("broken cluster configuration %s: %w", l.configFile(), err)
	}
	cfg.StateDir = stateDir
	return cfg, nil
}

// resolveAdvertiseAddress picks the address the API server advertises.
func resolveAdvertiseAddress(configured string) (net.IP, error) {
	if configured != "" {
		return net.ParseIP(configured).To4(), nil
	}
	if ip := hostaddr.Default(); ip != nil {
		return ip, nil
	}
	return nil, fmt.Errorf("this machine has no non-loopback IPv4 address for the API server to advertise; pass --advertise-address")
}

// Package config is the container instances service's configuration file:
// where it listens, who may call it, and per location what a container group
// may ask for, how much a subscription may use and what a second costs.
package config

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/vnode-io/vnode/internal/serving"
)

// Config is the whole service configuration. Zero fields take the defaults
// of Default; relative paths are resolved against DataDir.
type Config struct {
	// Listen is the HTTPS address, host:port.
	Listen string `json:"listen"`
	// AdvertiseURL is the base URL clients use (exec/attach websocket URIs,
	// operation URLs); empty means https://<Listen>.
	AdvertiseURL string `json:"advertiseURL,omitempty"`
	// DataDir holds the SQLite database, the generated certificate and the
	// secret key.
	DataDir string `json:"dataDir"`
	// TLSCertFile and TLSKeyFile name a serving certificate; when both are
	// empty one is generated under DataDir on first start.
	TLSCertFile string `json:"tlsCertFile,omitempty"`
	TLSKeyFile  string `json:"tlsKeyFile,omitempty"`
	// TokensFile lists the accepted bearer tokens, one a line followed by
	// the subscriptions it may use ('#' starts a comment line); see
	// api.LoadTokens. Required.
	TokensFile string `json:"tokensFile"`
	// SecretKeyFile holds the key that encrypts secrets at rest (created when
	// missing); default DataDir/secret.key. Keep it apart from database
	// backups.
	SecretKeyFile string `json:"secretKeyFile,omitempty"`
	// Runtime selects what runs the groups: "containerd" (the default: CRI
	// pod sandboxes on containerd) or "fake" (an in-process simulation).
	Runtime string `json:"runtime"`
	// Containerd configures the containerd runtime.
	Containerd Containerd `json:"containerd,omitempty"`
	// Locations are the regions this service offers; the first is the default.
	Locations []Location `json:"locations"`
	// Limits are the per-group limits ACI enforces.
	Limits Limits `json:"limits"`
	// RateLimits throttle a subscription's requests.
	RateLimits RateLimits `json:"rateLimits"`
	// HTTP bounds what a client may hold of the HTTPS server.
	HTTP HTTP `json:"http,omitempty"`
	// ListPageSize is the number of container groups per list page (default 100).
	ListPageSize int `json:"listPageSize,omitempty"`
}

// Containerd configures runtime "containerd": the service runs its own
// containerd with its root, state and socket under DataDir/containerd, or
// uses one that runs already (Endpoint).
type Containerd struct {
	// Endpoint is the gRPC socket of a containerd (with its CRI plugin)
	// that runs already, such as /run/containerd/containerd.sock. That
	// containerd's own configuration then decides the sandbox image and
	// the groups' network (its CNI configuration); SandboxImage, Bridge,
	// Subnet and Binary are ignored. Empty: the service runs its own.
	Endpoint string `json:"endpoint,omitempty"`
	// SandboxImage is the pause image every group's sandbox runs; it is
	// pulled when the service starts. Required unless Endpoint is set.
	SandboxImage string `json:"sandboxImage,omitempty"`
	// Bridge and Subnet are the groups' network (vnode0, 10.241.0.0/16).
	Bridge string `json:"bridge,omitempty"`
	Subnet string `json:"subnet,omitempty"`
	// Binary is the containerd executable (default: containerd from PATH).
	Binary string `json:"binary,omitempty"`
	// StopTimeoutSeconds is how long a container may take to stop after
	// SIGTERM before it is killed (default 30).
	StopTimeoutSeconds int `json:"stopTimeoutSeconds,omitempty"`
	// ContainerLogMaxSize is the size at which a running container's log
	// file is rotated (default 10Mi); ContainerLogMaxFiles is how many
	// files a container's log keeps, the current one included (default 5,
	// at least 2). They are the kubelet's settings of the same names.
	ContainerLogMaxSize  ByteSize `json:"containerLogMaxSize,omitempty"`
	ContainerLogMaxFiles int      `json:"containerLogMaxFiles,omitempty"`
}

// ByteSize is a number of bytes written as a Kubernetes quantity (10Mi,
// 512Ki, 1G) or as a plain number; empty means the default.
type ByteSize string

// UnmarshalJSON takes a string or a number.
func (b *ByteSize) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*b = ByteSize(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(data, &n); err != nil {
		return fmt.Errorf("a size must be a quantity such as 10Mi or a number of bytes, got %s", data)
	}
	*b = ByteSize(n.String())
	return nil
}

// Bytes returns the size; 0 when it is empty.
func (b ByteSize) Bytes() (int64, error) {
	if b == "" {
		return 0, nil
	}
	q, err := resource.ParseQuantity(string(b))
	if err != nil {
		return 0, fmt.Errorf("%q is not a quantity such as 10Mi or a number of bytes", string(b))
	}
	n := q.Value()
	if q.Sign() <= 0 || q.CmpInt64(n) != 0 {
		return 0, fmt.Errorf("%q is not a positive whole number of bytes", string(b))
	}
	return n, nil
}

// Location is one region with its capabilities, capacity, quotas and prices.
type Location struct {
	Name string `json:"name"`
	// Capabilities bound what a single Linux container group may request.
	Capabilities Capabilities `json:"capabilities"`
	// Capacity is what the location can run at once over all subscriptions;
	// zero means unbounded. Past it a create gets ServiceUnavailable.
	Capacity Capacity `json:"capacity"`
	// Quota is per subscription in this location.
	Quota Quota `json:"quota"`
	// Prices meter usage.
	Prices Prices `json:"prices"`
	// Security bounds containers' security contexts.
	Security Security `json:"security"`
}

// Capabilities are the per-group maxima of a location (ACI Linux: 4 CPU, 16 GB, 0 GPU).
type Capabilities struct {
	MaxCPU        float64 `json:"maxCpu"`
	MaxMemoryInGB float64 `json:"maxMemoryInGB"`
	MaxGPUCount   int     `json:"maxGpuCount"`
}

// Capacity is a location's total compute.
type Capacity struct {
	CPU        float64 `json:"cpu"`
	MemoryInGB float64 `json:"memoryInGB"`
}

// Quota is what one subscription may hold in a location.
type Quota struct {
	// StandardCores bounds the sum of CPU requested by active groups.
	StandardCores int `json:"standardCores"`
	// ContainerGroups bounds the number of groups.
	ContainerGroups int `json:"containerGroups"`
}

// Prices are per second of requested resources, in Currency.
type Prices struct {
	VCPUSecond float64 `json:"vcpuSecond"`
	GBSecond   float64 `json:"gbSecond"`
	Currency   string  `json:"currency"`
}

// Limits are the structural limits of a container group.
type Limits struct {
	ContainersPerGroup int `json:"containersPerGroup"`
	VolumesPerGroup    int `json:"volumesPerGroup"`
	PortsPerIP         int `json:"portsPerIP"`
	// MinGroupCPU and MinGroupMemoryInGB are the smallest total a group may
	// request (single containers may be smaller).
	MinGroupCPU        float64 `json:"minGroupCpu"`
	MinGroupMemoryInGB float64 `json:"minGroupMemoryInGB"`
}

// RateLimits are per subscription. Zero disables a limit.
type RateLimits struct {
	// CreatesPer5m/CreatesPer1h bound container-group creates; DeletesPer5m
	// and DeletesPer1h bound deletes (ACI: 100 and 300 each).
	CreatesPer5m int `json:"createsPer5m"`
	CreatesPer1h int `json:"createsPer1h"`
	DeletesPer5m int `json:"deletesPer5m"`
	DeletesPer1h int `json:"deletesPer1h"`
	// ReadsPerSecond and ReadBurst bound GET requests (ARM: about 25/s, burst 250).
	ReadsPerSecond float64 `json:"readsPerSecond"`
	ReadBurst      int     `json:"readBurst"`
	// WritesPerSecond and WriteBurst bound other mutating requests.
	WritesPerSecond float64 `json:"writesPerSecond"`
	WriteBurst      int     `json:"writeBurst"`
}

// HTTP bounds connections and requests; zero fields take serving's
// defaults (10 s, 60 s, 30 s, 64 KiB).
type HTTP struct {
	// HeaderTimeoutSeconds bounds the TLS handshake and a request's headers.
	HeaderTimeoutSeconds int `json:"headerTimeoutSeconds,omitempty"`
	// IdleTimeoutSeconds closes a keep-alive connection idle this long.
	IdleTimeoutSeconds int `json:"idleTimeoutSeconds,omitempty"`
	// BodyTimeoutSeconds bounds the wait for a request's body (answered
	// 408 when it runs out). Streams without a body, such as followed logs
	// and exec sessions, are not bounded.
	BodyTimeoutSeconds int `json:"bodyTimeoutSeconds,omitempty"`
	// MaxHeaderBytes bounds a request's headers (431 past it).
	MaxHeaderBytes int `json:"maxHeaderBytes,omitempty"`
}

// Limits are h as the server applies them.
func (h HTTP) Limits() serving.Limits {
	sec := func(n int) time.Duration { return time.Duration(n) * time.Second }
	return serving.Limits{ReadHeaderTimeout: sec(h.HeaderTimeoutSeconds), IdleTimeout: sec(h.IdleTimeoutSeconds),
		BodyTimeout: sec(h.BodyTimeoutSeconds), MaxHeaderBytes: h.MaxHeaderBytes}
}

// DefaultLocation is the location name used when none is configured.
const DefaultLocation = "local"

// DefaultLocationSpec returns a location with ACI's Linux defaults.
func DefaultLocationSpec(name string) Location {
	return Location{
		Name:         name,
		Capabilities: Capabilities{MaxCPU: 4, MaxMemoryInGB: 16},
		Quota:        Quota{StandardCores: 100, ContainerGroups: 100},
		Prices:       Prices{VCPUSecond: 0.0000113, GBSecond: 0.0000012, Currency: "USD"},
	}
}

// Default returns the configuration ACI's documented defaults describe.
func Default() Config {
	return Config{
		Listen:    "127.0.0.1:8443",
		Runtime:   "containerd",
		Locations: []Location{DefaultLocationSpec(DefaultLocation)},
		Limits: Limits{ContainersPerGroup: 60, VolumesPerGroup: 20, PortsPerIP: 5,
			MinGroupCPU: 1, MinGroupMemoryInGB: 1},
		RateLimits: RateLimits{CreatesPer5m: 100, CreatesPer1h: 300, DeletesPer5m: 100, DeletesPer1h: 300,
			ReadsPerSecond: 25, ReadBurst: 250, WritesPerSecond: 20, WriteBurst: 200},
	}
}

// Load reads a YAML or JSON file over the defaults and checks it.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	c := Default()
	c.Locations = nil
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse config %s: %w", path, err)
	}
	if err := c.Complete(filepath.Dir(path)); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Complete fills defaults, resolves relative paths against base and checks
// the configuration.
func (c *Config) Complete(base string) error {
	if c.DataDir == "" {
		return fmt.Errorf("dataDir is required")
	}
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	c.DataDir = abs(c.DataDir)
	c.TokensFile = abs(c.TokensFile)
	c.TLSCertFile = abs(c.TLSCertFile)
	c.TLSKeyFile = abs(c.TLSKeyFile)
	c.SecretKeyFile = abs(c.SecretKeyFile)
	if c.SecretKeyFile == "" {
		c.SecretKeyFile = filepath.Join(c.DataDir, "secret.key")
	}
	if c.TokensFile == "" {
		return fmt.Errorf("tokensFile is required")
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return fmt.Errorf("tlsCertFile and tlsKeyFile go together")
	}
	if c.Listen == "" {
		c.Listen = Default().Listen
	}
	if c.Runtime == "" {
		c.Runtime = Default().Runtime
	}
	if c.ListPageSize == 0 {
		c.ListPageSize = 100
	}
	if len(c.Locations) == 0 {
		c.Locations = []Location{DefaultLocationSpec(DefaultLocation)}
	}
	seen := map[string]bool{}
	for i := range c.Locations {
		l := &c.Locations[i]
		l.Name = NormalizeLocation(l.Name)
		if l.Name == "" {
			return fmt.Errorf("locations[%d]: name is required", i)
		}
		if seen[l.Name] {
			return fmt.Errorf("locations[%d]: location %q listed twice", i, l.Name)
		}
		seen[l.Name] = true
		d := DefaultLocationSpec(l.Name)
		if l.Capabilities.MaxCPU == 0 {
			l.Capabilities.MaxCPU = d.Capabilities.MaxCPU
		}
		if l.Capabilities.MaxMemoryInGB == 0 {
			l.Capabilities.MaxMemoryInGB = d.Capabilities.MaxMemoryInGB
		}
		if l.Quota.StandardCores == 0 {
			l.Quota.StandardCores = d.Quota.StandardCores
		}
		if l.Quota.ContainerGroups == 0 {
			l.Quota.ContainerGroups = d.Quota.ContainerGroups
		}
		if l.Prices == (Prices{}) {
			// No prices at all: ACI's. Free metering needs a currency and
			// zero prices spelled out.
			l.Prices = d.Prices
		}
		if l.Prices.Currency == "" {
			l.Prices.Currency = d.Prices.Currency
		}
		if l.Capabilities.MaxCPU < 0 || l.Capabilities.MaxMemoryInGB < 0 || l.Capacity.CPU < 0 ||
			l.Capacity.MemoryInGB < 0 || l.Quota.StandardCores < 0 || l.Quota.ContainerGroups < 0 ||
			l.Prices.VCPUSecond < 0 || l.Prices.GBSecond < 0 {
			return fmt.Errorf("location %q: capabilities, capacity, quota and prices may not be negative", l.Name)
		}
		if err := l.Security.check(); err != nil {
			return fmt.Errorf("location %q: %w", l.Name, err)
		}
	}
	d := Default()
	if c.Limits.ContainersPerGroup == 0 {
		c.Limits.ContainersPerGroup = d.Limits.ContainersPerGroup
	}
	if c.Limits.VolumesPerGroup == 0 {
		c.Limits.VolumesPerGroup = d.Limits.VolumesPerGroup
	}
	if c.Limits.PortsPerIP == 0 {
		c.Limits.PortsPerIP = d.Limits.PortsPerIP
	}
	if err := c.checkNonNegative(); err != nil {
		return err
	}
	if err := c.Containerd.checkContainerLogs(); err != nil {
		return err
	}
	return c.checkRuntime()
}

// checkContainerLogs checks the log rotation settings.
func (c *Containerd) checkContainerLogs() error {
	if _, err := c.ContainerLogMaxSize.Bytes(); err != nil {
		return fmt.Errorf("containerd.containerLogMaxSize: %w", err)
	}
	if n := c.ContainerLogMaxFiles; n != 0 && n < 2 {
		return fmt.Errorf("containerd.containerLogMaxFiles is %d: it must be at least 2 (the current file and a rotated one)", n)
	}
	return nil
}

// checkRuntime checks that the runtime is known and has what it needs.
func (c *Config) checkRuntime() error {
	switch c.Runtime {
	case "fake":
	case "containerd":
		if c.Containerd.SandboxImage == "" && c.Containerd.Endpoint == "" {
			return fmt.Errorf("containerd.sandboxImage is required with runtime containerd (the default): " +
				"name a pause image in a registry the service can pull from (vnode up pushes vnode/pause:1 to its local registry), " +
				"or set containerd.endpoint to use a containerd that runs already, or set runtime: fake to simulate the containers")
		}
	default:
		return fmt.Errorf("runtime %q: use fake or containerd", c.Runtime)
	}
	return nil
}

// checkNonNegative refuses negative limits and rate limits.
func (c *Config) checkNonNegative() error {
	l, r := c.Limits, c.RateLimits
	for _, v := range []struct {
		name  string
		value float64
	}{
		{"limits.containersPerGroup", float64(l.ContainersPerGroup)}, {"limits.volumesPerGroup", float64(l.VolumesPerGroup)},
		{"limits.portsPerIP", float64(l.PortsPerIP)}, {"limits.minGroupCpu", l.MinGroupCPU},
		{"limits.minGroupMemoryInGB", l.MinGroupMemoryInGB},
		{"rateLimits.createsPer5m", float64(r.CreatesPer5m)}, {"rateLimits.createsPer1h", float64(r.CreatesPer1h)},
		{"rateLimits.deletesPer5m", float64(r.DeletesPer5m)}, {"rateLimits.deletesPer1h", float64(r.DeletesPer1h)},
		{"rateLimits.readsPerSecond", r.ReadsPerSecond}, {"rateLimits.readBurst", float64(r.ReadBurst)},
		{"rateLimits.writesPerSecond", r.WritesPerSecond}, {"rateLimits.writeBurst", float64(r.WriteBurst)},
		{"listPageSize", float64(c.ListPageSize)},
		{"http.headerTimeoutSeconds", float64(c.HTTP.HeaderTimeoutSeconds)},
		{"http.idleTimeoutSeconds", float64(c.HTTP.IdleTimeoutSeconds)},
		{"http.bodyTimeoutSeconds", float64(c.HTTP.BodyTimeoutSeconds)},
		{"http.maxHeaderBytes", float64(c.HTTP.MaxHeaderBytes)},
	} {
		if v.value < 0 {
			return fmt.Errorf("%s may not be negative (got %g)", v.name, v.value)
		}
	}
	return nil
}

// Location returns the named location (case and spaces ignored, as ARM does).
func (c *Config) Location(name string) (Location, bool) {
	n := NormalizeLocation(name)
	for _, l := range c.Locations {
		if l.Name == n {
			return l, true
		}
	}
	return Location{}, false
}

// NormalizeLocation folds "East US" and "eastus" to the same name.
func NormalizeLocation(name string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSpace(name), " ", ""))
}

// OperationTimeout bounds how long a create may take before it fails (ACI: 30 min).
const OperationTimeout = 30 * time.Minute

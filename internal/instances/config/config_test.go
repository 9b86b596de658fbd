package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// write puts a config file named name in a new directory and returns its path.
func write(t *testing.T, name, content string) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func mustLoad(t *testing.T, path string) Config {
	t.Helper()
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	return c
}

func TestLoadYAML(t *testing.T) {
	path := write(t, "config.yaml", `
listen: 0.0.0.0:9443
advertiseURL: https://example.test:9443
dataDir: /var/lib/vnode
tokensFile: /etc/vnode/tokens
runtime: fake
listPageSize: 7
locations:
- name: West Europe
  capabilities: {maxCpu: 8, maxMemoryInGB: 32, maxGpuCount: 2}
  capacity: {cpu: 64, memoryInGB: 256}
  quota: {standardCores: 10, containerGroups: 5}
  prices: {vcpuSecond: 0.5, gbSecond: 0.25, currency: EUR}
- name: eastus
limits:
  containersPerGroup: 3
rateLimits:
  createsPer5m: 1
  readsPerSecond: 2.5
`)
	c := mustLoad(t, path)
	if c.Listen != "0.0.0.0:9443" || c.AdvertiseURL != "https://example.test:9443" || c.Runtime != "fake" || c.ListPageSize != 7 {
		t.Errorf("scalars: %+v", c)
	}
	if c.DataDir != "/var/lib/vnode" || c.TokensFile != "/etc/vnode/tokens" {
		t.Errorf("absolute paths changed: %q %q", c.DataDir, c.TokensFile)
	}
	if len(c.Locations) != 2 {
		t.Fatalf("locations %+v", c.Locations)
	}
	want := Location{Name: "westeurope",
		Capabilities: Capabilities{MaxCPU: 8, MaxMemoryInGB: 32, MaxGPUCount: 2},
		Capacity:     Capacity{CPU: 64, MemoryInGB: 256},
		Quota:        Quota{StandardCores: 10, ContainerGroups: 5},
		Prices:       Prices{VCPUSecond: 0.5, GBSecond: 0.25, Currency: "EUR"}}
	if !reflect.DeepEqual(c.Locations[0], want) {
		t.Errorf("location 0:\n got %+v\nwant %+v", c.Locations[0], want)
	}
	if c.Locations[1].Name != "eastus" {
		t.Errorf("location 1 = %q", c.Locations[1].Name)
	}
	// Fields not given keep their defaults, also inside a given struct.
	d := Default()
	wantLimits := d.Limits
	wantLimits.ContainersPerGroup = 3
	if c.Limits != wantLimits {
		t.Errorf("limits %+v, want %+v", c.Limits, wantLimits)
	}
	wantRates := d.RateLimits
	wantRates.CreatesPer5m, wantRates.ReadsPerSecond = 1, 2.5
	if c.RateLimits != wantRates {
		t.Errorf("rate limits %+v, want %+v", c.RateLimits, wantRates)
	}
}

func TestLoadJSON(t *testing.T) {
	path := write(t, "config.json", `{
  "dataDir": "/data",
  "tokensFile": "/tokens",
  "containerd": {"sandboxImage": "registry.test/pause:1", "bridge": "vn1", "subnet": "10.9.0.0/16"},
  "tlsCertFile": "/tls/cert.pem",
  "tlsKeyFile": "/tls/key.pem",
  "secretKeyFile": "/keys/secret.key",
  "locations": [{"name": "North Europe", "quota": {"standardCores": 3}}],
  "rateLimits": {"writeBurst": 9}
}`)
	c := mustLoad(t, path)
	if c.Containerd != (Containerd{SandboxImage: "registry.test/pause:1", Bridge: "vn1", Subnet: "10.9.0.0/16"}) {
		t.Errorf("containerd %+v", c.Containerd)
	}
	if c.TLSCertFile != "/tls/cert.pem" || c.TLSKeyFile != "/tls/key.pem" || c.SecretKeyFile != "/keys/secret.key" {
		t.Errorf("paths %q %q %q", c.TLSCertFile, c.TLSKeyFile, c.SecretKeyFile)
	}
	if len(c.Locations) != 1 || c.Locations[0].Name != "northeurope" || c.Locations[0].Quota.StandardCores != 3 {
		t.Errorf("locations %+v", c.Locations)
	}
	if c.RateLimits.WriteBurst != 9 || c.RateLimits.ReadBurst != Default().RateLimits.ReadBurst {
		t.Errorf("rate limits %+v", c.RateLimits)
	}
}

func TestLoadRejectsUnknownField(t *testing.T) {
	for _, tc := range []struct{ file, content, field string }{
		{"top.yaml", "dataDir: d\ntokensFile: t\nlisten2: x\n", "listen2"},
		{"nested.yaml", "dataDir: d\ntokensFile: t\nlocations:\n- name: a\n  quota: {cores: 3}\n", "cores"},
		{"top.json", `{"dataDir": "d", "tokensFile": "t", "bogus": 1}`, "bogus"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			path := write(t, tc.file, tc.content)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load accepted an unknown field")
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if !strings.Contains(err.Error(), tc.field) {
				t.Errorf("error %q does not name the field %q", err, tc.field)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
	path := write(t, "bad.yaml", "dataDir: [unclosed\n")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("malformed YAML: %v", err)
	}
	path = write(t, "types.yaml", "dataDir: d\ntokensFile: t\nlistPageSize: many\n")
	if _, err := Load(path); err == nil {
		t.Error("a string for listPageSize was accepted")
	}
}

func TestLoadResolvesRelativePaths(t *testing.T) {
	path := write(t, "c.yaml", `
dataDir: data
tokensFile: ../tokens
runtime: fake
tlsCertFile: tls/cert.pem
tlsKeyFile: ./tls/key.pem
secretKeyFile: /abs/secret.key
`)
	dir := filepath.Dir(path)
	c := mustLoad(t, path)
	checks := map[string][2]string{
		"dataDir":       {c.DataDir, filepath.Join(dir, "data")},
		"tokensFile":    {c.TokensFile, filepath.Join(filepath.Dir(dir), "tokens")},
		"tlsCertFile":   {c.TLSCertFile, filepath.Join(dir, "tls", "cert.pem")},
		"tlsKeyFile":    {c.TLSKeyFile, filepath.Join(dir, "tls", "key.pem")},
		"secretKeyFile": {c.SecretKeyFile, "/abs/secret.key"},
	}
	for name, v := range checks {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", name, v[0], v[1])
		}
	}
}

// The default runtime, containerd, needs a sandbox image unless it uses a
// containerd that runs already.
func TestContainerdNeedsSandboxImageOrEndpoint(t *testing.T) {
	_, err := Load(write(t, "min.yaml", "dataDir: data\ntokensFile: tokens\n"))
	if err == nil || !strings.Contains(err.Error(), "containerd.sandboxImage is required") || !strings.Contains(err.Error(), "runtime: fake") {
		t.Errorf("Load without a sandbox image: %v", err)
	}
	c := mustLoad(t, write(t, "endpoint.yaml", "dataDir: data\ntokensFile: tokens\ncontainerd: {endpoint: /run/containerd/containerd.sock}\n"))
	if c.Runtime != "containerd" || c.Containerd.Endpoint != "/run/containerd/containerd.sock" {
		t.Errorf("runtime %q endpoint %q", c.Runtime, c.Containerd.Endpoint)
	}
}

func TestLoadFillsDefaults(t *testing.T) {
	path := write(t, "min.yaml", "dataDir: data\ntokensFile: tokens\ncontainerd: {sandboxImage: registry.test/pause:1}\n")
	c := mustLoad(t, path)
	d := Default()
	dir := filepath.Dir(path)
	if c.Listen != d.Listen || c.Runtime != "containerd" || c.AdvertiseURL != "" {
		t.Errorf("listen %q runtime %q advertise %q", c.Listen, c.Runtime, c.AdvertiseURL)
	}
	if c.ListPageSize != 100 {
		t.Errorf("ListPageSize = %d, want 100", c.ListPageSize)
	}
	if c.SecretKeyFile != filepath.Join(dir, "data", "secret.key") {
		t.Errorf("SecretKeyFile = %q, want under DataDir", c.SecretKeyFile)
	}
	if c.TLSCertFile != "" || c.TLSKeyFile != "" {
		t.Errorf("TLS files %q %q, want empty (generated)", c.TLSCertFile, c.TLSKeyFile)
	}
	if !reflect.DeepEqual(c.Locations, []Location{DefaultLocationSpec(DefaultLocation)}) {
		t.Errorf("locations %+v, want the default location", c.Locations)
	}
	if c.Limits != d.Limits {
		t.Errorf("limits %+v, want %+v", c.Limits, d.Limits)
	}
	if c.RateLimits != d.RateLimits {
		t.Errorf("rate limits %+v, want %+v", c.RateLimits, d.RateLimits)
	}
	wantLimits := Limits{ContainersPerGroup: 60, VolumesPerGroup: 20, PortsPerIP: 5, MinGroupCPU: 1, MinGroupMemoryInGB: 1}
	if d.Limits != wantLimits {
		t.Errorf("Default limits %+v, want ACI's %+v", d.Limits, wantLimits)
	}
}

func TestLoadFillsLocationDefaults(t *testing.T) {
	path := write(t, "loc.yaml", `
dataDir: d
tokensFile: t
runtime: fake
locations:
- name: a
  quota: {standardCores: 7}
  capabilities: {maxCpu: 2}
limits: {containersPerGroup: 0, volumesPerGroup: 4}
`)
	c := mustLoad(t, path)
	l := c.Locations[0]
	d := DefaultLocationSpec("a")
	if l.Quota.StandardCores != 7 || l.Quota.ContainerGroups != d.Quota.ContainerGroups {
		t.Errorf("quota %+v", l.Quota)
	}
	if l.Capabilities.MaxCPU != 2 || l.Capabilities.MaxMemoryInGB != d.Capabilities.MaxMemoryInGB || l.Capabilities.MaxGPUCount != 0 {
		t.Errorf("capabilities %+v", l.Capabilities)
	}
	if l.Capacity != (Capacity{}) {
		t.Errorf("capacity %+v, want zero (unbounded)", l.Capacity)
	}
	if l.Prices.Currency != "USD" {
		t.Errorf("currency %q, want USD", l.Prices.Currency)
	}
	if c.Limits.ContainersPerGroup != 60 || c.Limits.VolumesPerGroup != 4 || c.Limits.PortsPerIP != 5 {
		t.Errorf("limits %+v", c.Limits)
	}
}

// checkNonNegative lists listPageSize, but Complete has already turned a
// negative page size into the default by then, so it is accepted.
func TestCompleteRefusesNegativeListPageSize(t *testing.T) {
	c := Default()
	c.DataDir, c.TokensFile, c.ListPageSize, c.Runtime = "/d", "/t", -5, "fake"
	if err := c.Complete("/"); err == nil || !strings.Contains(err.Error(), "listPageSize") {
		t.Errorf("listPageSize -5: err %v, want a refusal (page size now %d)", err, c.ListPageSize)
	}
}

// A location listed without prices is metered at ACI's (the documented
// defaults); free metering is spelled out as a currency with zero prices.
func TestLoadLocationPrices(t *testing.T) {
	path := write(t, "p.yaml", `
dataDir: d
tokensFile: t
runtime: fake
locations:
- name: a
- name: free
  prices: {currency: EUR}
`)
	c := mustLoad(t, path)
	want := map[string]Prices{
		"a":    DefaultLocationSpec("a").Prices,
		"free": {Currency: "EUR"},
	}
	for _, l := range c.Locations {
		if l.Prices != want[l.Name] {
			t.Errorf("location %s prices %+v, want %+v", l.Name, l.Prices, want[l.Name])
		}
	}
}

func TestLoadRequiredFields(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"no dataDir", "tokensFile: t\n", "dataDir is required"},
		{"no tokensFile", "dataDir: d\n", "tokensFile is required"},
		{"cert without key", "dataDir: d\ntokensFile: t\ntlsCertFile: c.pem\n", "tlsCertFile and tlsKeyFile"},
		{"key without cert", "dataDir: d\ntokensFile: t\ntlsKeyFile: k.pem\n", "tlsCertFile and tlsKeyFile"},
		{"nameless location", "dataDir: d\ntokensFile: t\nlocations:\n- name: '  '\n", "name is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := write(t, "c.yaml", tc.content)
			_, err := Load(path)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q, want it to contain %q and the file name", err, tc.want)
			}
		})
	}
}

func TestCompleteRefusesDuplicateLocations(t *testing.T) {
	for _, names := range [][]string{
		{"eastus", "eastus"},
		{"East US", "eastus"},
		{"eastus", "EASTUS"},
		{"west europe", " West Europe ", "x"},
	} {
		c := Default()
		c.DataDir, c.TokensFile = "/d", "/t"
		c.Locations = nil
		for _, n := range names {
			c.Locations = append(c.Locations, Location{Name: n})
		}
		err := c.Complete("/")
		if err == nil || !strings.Contains(err.Error(), "listed twice") {
			t.Errorf("locations %q: err %v, want listed twice", names, err)
		}
	}
}

func TestCompleteRefusesNegativeLocationValues(t *testing.T) {
	for name, mutate := range map[string]func(*Location){
		"maxCpu":          func(l *Location) { l.Capabilities.MaxCPU = -1 },
		"maxMemoryInGB":   func(l *Location) { l.Capabilities.MaxMemoryInGB = -1 },
		"capacity cpu":    func(l *Location) { l.Capacity.CPU = -1 },
		"capacity memory": func(l *Location) { l.Capacity.MemoryInGB = -0.5 },
		"standardCores":   func(l *Location) { l.Quota.StandardCores = -1 },
		"containerGroups": func(l *Location) { l.Quota.ContainerGroups = -3 },
		"vcpuSecond":      func(l *Location) { l.Prices.VCPUSecond = -0.1 },
		"gbSecond":        func(l *Location) { l.Prices.GBSecond = -0.1 },
	} {
		c := Default()
		c.DataDir, c.TokensFile = "/d", "/t"
		mutate(&c.Locations[0])
		if err := c.Complete("/"); err == nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("%s: err %v, want a refusal", name, err)
		}
	}
	// Via Load as well, with the file named.
	path := write(t, "neg.yaml", "dataDir: d\ntokensFile: t\nlocations:\n- name: a\n  quota: {standardCores: -1}\n")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load with a negative quota: %v", err)
	}
}

// Negative limits and rate limits are refused like the locations' values
// (a negative containersPerGroup would refuse every group).
func TestCompleteRefusesNegativeLimits(t *testing.T) {

	for name, mutate := range map[string]func(*Config){
		"containersPerGroup": func(c *Config) { c.Limits.ContainersPerGroup = -1 },
		"minGroupCpu":        func(c *Config) { c.Limits.MinGroupCPU = -1 },
		"createsPer5m":       func(c *Config) { c.RateLimits.CreatesPer5m = -1 },
		"readsPerSecond":     func(c *Config) { c.RateLimits.ReadsPerSecond = -1 },
		"writeBurst":         func(c *Config) { c.RateLimits.WriteBurst = -1 },
		"minGroupMemoryInGB": func(c *Config) { c.Limits.MinGroupMemoryInGB = -0.5 },
	} {
		c := Default()
		c.DataDir, c.TokensFile = "/d", "/t"
		mutate(&c)
		if err := c.Complete("/"); err == nil || !strings.Contains(err.Error(), "negative") {
			t.Errorf("%s: err %v, want a refusal", name, err)
		}
	}
	path := write(t, "neg.yaml", "dataDir: d\ntokensFile: t\nlimits: {portsPerIP: -2}\n")
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "portsPerIP") || !strings.Contains(err.Error(), path) {
		t.Errorf("Load with negative portsPerIP: %v", err)
	}
}

func TestLocationLookup(t *testing.T) {
	c := Default()
	c.DataDir, c.TokensFile, c.Runtime = "/d", "/t", "fake"
	c.Locations = []Location{{Name: "West Europe"}, {Name: "eastus2"}}
	if err := c.Complete("/"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"westeurope", "West Europe", "WESTEUROPE", " west europe ", "West  Europe"} {
		l, ok := c.Location(q)
		if !ok || l.Name != "westeurope" {
			t.Errorf("Location(%q) = %q, %v", q, l.Name, ok)
		}
	}
	if l, ok := c.Location("East US 2"); !ok || l.Name != "eastus2" {
		t.Errorf("Location(East US 2) = %q, %v", l.Name, ok)
	}
	for _, q := range []string{"eastus", "", "west-europe"} {
		if _, ok := c.Location(q); ok {
			t.Errorf("Location(%q) found", q)
		}
	}
	if got := NormalizeLocation(" North  Central US "); got != "northcentralus" {
		t.Errorf("NormalizeLocation = %q", got)
	}
}

func TestCompleteKeepsAbsoluteAndEmptyPaths(t *testing.T) {
	c := Config{DataDir: "rel", TokensFile: "/abs/tokens", Runtime: "fake"}
	if err := c.Complete("/base"); err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/base/rel" || c.TokensFile != "/abs/tokens" || c.TLSCertFile != "" {
		t.Errorf("paths %q %q %q", c.DataDir, c.TokensFile, c.TLSCertFile)
	}
	if c.SecretKeyFile != "/base/rel/secret.key" {
		t.Errorf("SecretKeyFile %q", c.SecretKeyFile)
	}
	// A zero Config gets the structural limits but no minimum group size
	// ("0 = none" in the documentation).
	if c.Limits.ContainersPerGroup != 60 || c.Limits.MinGroupCPU != 0 {
		t.Errorf("limits %+v", c.Limits)
	}
}

// Log rotation takes the kubelet's forms: a quantity or a number of bytes,
// and at least two files.
func TestContainerLogSettings(t *testing.T) {
	base := "dataDir: data\ntokensFile: tokens\nruntime: fake\n"
	for yaml, want := range map[string]int64{"": 0, "containerLogMaxSize: 10Mi": 10 << 20,
		"containerLogMaxSize: 4096": 4096, "containerLogMaxSize: \"1.5Ki\"": 1536, "containerLogMaxSize: 1e6": 1000000} {
		c := mustLoad(t, write(t, "c.yaml", base+"containerd: {"+yaml+"}\n"))
		if got, err := c.Containerd.ContainerLogMaxSize.Bytes(); err != nil || got != want {
			t.Errorf("%q: %d, %v; want %d", yaml, got, err, want)
		}
	}
	for yaml, want := range map[string]string{
		"containerLogMaxSize: 10MB":      `containerd.containerLogMaxSize: "10MB" is not a quantity`,
		"containerLogMaxSize: 0":         `containerd.containerLogMaxSize: "0" is not a positive whole number of bytes`,
		"containerLogMaxSize: -1Mi":      `containerd.containerLogMaxSize: "-1Mi" is not a positive`,
		"containerLogMaxSize: 0.5":       `"0.5" is not a positive whole number of bytes`,
		"containerLogMaxSize: 100E":      `"100E" is not a positive whole number of bytes`,
		"containerLogMaxSize: [1]":       "a size must be a quantity such as 10Mi or a number of bytes",
		"containerLogMaxFiles: 1":        "containerd.containerLogMaxFiles is 1: it must be at least 2",
		"containerLogMaxFiles: -3":       "containerd.containerLogMaxFiles is -3",
		"containerLogMaxFiles: \"five\"": "cannot unmarshal",
	} {
		_, err := Load(write(t, "c.yaml", base+"containerd: {"+yaml+"}\n"))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", yaml, err, want)
		}
	}
}

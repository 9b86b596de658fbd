// Package network describes the network that container groups join: one
// Linux bridge on the host, a private IPv4 subnet handed out one address per
// group by the host-local IPAM plugin, masquerading for traffic that leaves
// the host, and port mappings. It writes that description as a CNI network
// configuration list for containerd's CRI plugin.
//
// The conflist uses CNI spec version 0.4.0, which both
// containernetworking-plugins 1.1.1 and containerd 1.6 (go-cni) support.
// The loopback interface is not part of it: containerd's CRI plugin adds
// its own loopback network and runs the "loopback" plugin from the same
// bin_dir.
package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// Defaults for Config's fields.
const (
	DefaultName   = "vnode"
	DefaultBridge = "vnode0"
	DefaultSubnet = "10.241.0.0/16"
	// FileName is the name WriteCNIConfig gives the conflist. containerd
	// loads conflists in lexical order and, with max_conf_num = 1, only the
	// first one, so the conf dir should hold nothing else.
	FileName = "10-vnode.conflist"
	// CNIVersion is the CNI spec version of the conflist.
	CNIVersion = "0.4.0"
)

// Prefix lengths a subnet may have: /8 is the largest private block, /28
// the smallest that still leaves room for a gateway and a few groups.
const (
	minPrefix = 8
	maxPrefix = 28
)

// Config describes the group network.
type Config struct {
	// Name is the CNI network name; DefaultName when empty.
	Name string
	// Bridge is the host bridge's interface name; DefaultBridge when empty.
	Bridge string
	// Subnet is the IPv4 subnet groups get addresses from, in canonical
	// form (network address, e.g. 10.241.0.0/16); DefaultSubnet when empty.
	Subnet string
	// Gateway is the bridge's address inside Subnet; the subnet's first
	// address (e.g. 10.241.0.1) when empty.
	Gateway string
	// IPAMDir is where host-local keeps its address leases. Required: it
	// belongs under the service's data directory, so leases live and die
	// with the service rather than in /var/lib/cni.
	IPAMDir string
	// MTU of the bridge and the groups' interfaces; the bridge plugin's
	// default (1500) when 0.
	MTU int
}

// Resolved returns cfg with defaults filled in and every field checked.
func (c Config) Resolved() (Config, error) {
	if c.Name == "" {
		c.Name = DefaultName
	}
	if c.Bridge == "" {
		c.Bridge = DefaultBridge
	}
	if c.Subnet == "" {
		c.Subnet = DefaultSubnet
	}
	if err := validateBridge(c.Bridge); err != nil {
		return Config{}, err
	}
	prefix, err := ParseSubnet(c.Subnet)
	if err != nil {
		return Config{}, err
	}
	gw, err := resolveGateway(prefix, c.Gateway)
	if err != nil {
		return Config{}, err
	}
	c.Gateway = gw.String()
	if c.IPAMDir == "" {
		return Config{}, errors.New("network: IPAMDir is required")
	}
	if !filepath.IsAbs(c.IPAMDir) {
		return Config{}, fmt.Errorf("network: IPAMDir %q is not an absolute path", c.IPAMDir)
	}
	if c.MTU != 0 && (c.MTU < 576 || c.MTU > 65535) {
		return Config{}, fmt.Errorf("network: MTU %d out of range 576-65535", c.MTU)
	}
	return c, nil
}

// ParseSubnet parses and checks a group subnet: IPv4, canonical (the
// network address itself) and with a prefix length between /8 and /28.
func ParseSubnet(s string) (netip.Prefix, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("network: subnet: %w", err)
	}
	if !p.Addr().Is4() {
		return netip.Prefix{}, fmt.Errorf("network: subnet %s is not IPv4", s)
	}
	if p.Bits() < minPrefix || p.Bits() > maxPrefix {
		return netip.Prefix{}, fmt.Errorf("network: subnet %s: prefix length must be between /%d and /%d", s, minPrefix, maxPrefix)
	}
	if p.Masked() != p {
		return netip.Prefix{}, fmt.Errorf("network: subnet %s is not a network address (did you mean %s?)", s, p.Masked())
	}
	return p, nil
}

// resolveGateway returns the given gateway, checked to be a host address
// inside the subnet, or the subnet's first host address.
func resolveGateway(subnet netip.Prefix, gateway string) (netip.Addr, error) {
	if gateway == "" {
		return subnet.Addr().Next(), nil
	}
	gw, err := netip.ParseAddr(gateway)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("network: gateway: %w", err)
	}
	if !subnet.Contains(gw) || gw == subnet.Addr() || gw == lastAddr(subnet) {
		return netip.Addr{}, fmt.Errorf("network: gateway %s is not a host address in %s", gw, subnet)
	}
	return gw, nil
}

// lastAddr returns the subnet's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1 << host) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// validateBridge checks a Linux interface name: 1-15 bytes, no '/', no
// whitespace, not "." or "..".
func validateBridge(name string) error {
	if len(name) > 15 || name == "." || name == ".." {
		return fmt.Errorf("network: bridge name %q is not a valid interface name", name)
	}
	for _, r := range name {
		if r == '/' || r == ':' || r <= ' ' || r > '~' {
			return fmt.Errorf("network: bridge name %q is not a valid interface name", name)
		}
	}
	return nil
}

// conflist is the CNI network configuration list.
type conflist struct {
	CNIVersion string `json:"cniVersion"`
	Name       string `json:"name"`
	Plugins    []any  `json:"plugins"`
}

type bridgePlugin struct {
	Type        string `json:"type"`
	Bridge      string `json:"bridge"`
	IsGateway   bool   `json:"isGateway"`
	IPMasq      bool   `json:"ipMasq"`
	HairpinMode bool   `json:"hairpinMode"`
	MTU         int    `json:"mtu,omitempty"`
	IPAM        ipam   `json:"ipam"`
}

type ipam struct {
	Type    string        `json:"type"`
	Ranges  [][]ipamRange `json:"ranges"`
	Routes  []route       `json:"routes"`
	DataDir string        `json:"dataDir"`
}

type ipamRange struct {
	Subnet  string `json:"subnet"`
	Gateway string `json:"gateway"`
}

type route struct {
	Dst string `json:"dst"`
}

type portmapPlugin struct {
	Type         string          `json:"type"`
	Capabilities map[string]bool `json:"capabilities"`
}

// CNIConfig returns the conflist for cfg as indented JSON.
func CNIConfig(cfg Config) ([]byte, error) {
	cfg, err := cfg.Resolved()
	if err != nil {
		return nil, err
	}
	list := conflist{
		CNIVersion: CNIVersion,
		Name:       cfg.Name,
		Plugins: []any{
			bridgePlugin{
				Type:        "bridge",
				Bridge:      cfg.Bridge,
				IsGateway:   true,
				IPMasq:      true,
				HairpinMode: true,
				MTU:         cfg.MTU,
				IPAM: ipam{
					Type:    "host-local",
					Ranges:  [][]ipamRange{{{Subnet: cfg.Subnet, Gateway: cfg.Gateway}}},
					Routes:  []route{{Dst: "0.0.0.0/0"}},
					DataDir: cfg.IPAMDir,
				},
			},
			portmapPlugin{Type: "portmap", Capabilities: map[string]bool{"portMappings": true}},
		},
	}
	data, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("network: encode conflist: %w", err)
	}
	return append(data, '\n'), nil
}

// WriteCNIConfig writes the conflist for cfg to dir/FileName, creating dir
// and cfg.IPAMDir. The file is replaced atomically, since containerd
// watches the directory and may read it at any moment.
func WriteCNIConfig(dir string, cfg Config) error {
	data, err := CNIConfig(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("network: create CNI conf dir: %w", err)
	}
	if err := os.MkdirAll(cfg.IPAMDir, 0o700); err != nil {
		return fmt.Errorf("network: create IPAM dir: %w", err)
	}
	return writeAtomic(filepath.Join(dir, FileName), data)
}

// writeAtomic writes data to a temporary file beside path and renames it
// over path. The temporary name does not end in .conflist, so containerd
// never loads a half-written file.
func writeAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("network: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("network: write %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("network: write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("network: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("network: write %s: %w", path, err)
	}
	return nil
}

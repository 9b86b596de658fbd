package network

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
)

// ProcRoutes is the kernel's IPv4 main routing table as text.
const ProcRoutes = "/proc/net/route"

// Route is one IPv4 route of the host: a destination reached through an
// interface.
type Route struct {
	Iface string
	Dst   netip.Prefix
}

// ReadRoutes parses a routing table in the format of /proc/net/route: a
// header line, then one route per line whose destination and mask are
// 32-bit numbers in hex, in the host's byte order.
func ReadRoutes(r io.Reader) ([]Route, error) {
	var routes []Route
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("network: route line %q has %d fields, want at least 8", sc.Text(), len(f))
		}
		dst, err := parseHexAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("network: route destination %q: %w", f[1], err)
		}
		mask, err := parseHexAddr(f[7])
		if err != nil {
			return nil, fmt.Errorf("network: route mask %q: %w", f[7], err)
		}
		bits := maskBits(mask)
		if bits < 0 {
			return nil, fmt.Errorf("network: route mask %s is not contiguous", mask)
		}
		routes = append(routes, Route{Iface: f[0], Dst: netip.PrefixFrom(dst, bits).Masked()})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("network: read routes: %w", err)
	}
	return routes, nil
}

// parseHexAddr decodes an IPv4 address as /proc/net/route writes it: the
// address's four bytes read as a 32-bit number in the host's byte order,
// printed as 8 hex digits.
func parseHexAddr(s string) (netip.Addr, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 4 {
		return netip.Addr{}, fmt.Errorf("not 8 hex digits")
	}
	var a [4]byte
	binary.NativeEndian.PutUint32(a[:], binary.BigEndian.Uint32(b))
	return netip.AddrFrom4(a), nil
}

// maskBits returns the prefix length of a contiguous netmask, or -1.
func maskBits(mask netip.Addr) int {
	b := mask.As4()
	v := binary.BigEndian.Uint32(b[:])
	ones := 0
	for v&(1<<31) != 0 {
		ones++
		v <<= 1
	}
	if v != 0 {
		return -1
	}
	return ones
}

// CheckSubnetFree returns an error when a route through an interface other
// than bridge is as specific as subnet or more and lies inside it: the
// kernel would send the groups' traffic there instead of to the bridge, so
// groups would start but be unreachable. That is what a bridge left behind
// by a killed earlier run (another name, the same subnet) does. Routes
// wider than subnet, such as the default route, are harmless: the bridge's
// own route is more specific.
func CheckSubnetFree(routes []Route, bridge string, subnet netip.Prefix) error {
	for _, r := range routes {
		if r.Iface == bridge || r.Dst.Bits() < subnet.Bits() || !subnet.Contains(r.Dst.Addr()) {
			continue
		}
		return fmt.Errorf("network: the groups' subnet %s is already routed through %s (route %s), so groups on bridge %s would be unreachable; "+
			"choose another subnet, or remove %s if an earlier run left it behind (ip link delete %s)",
			subnet, r.Iface, r.Dst, bridge, r.Iface, r.Iface)
	}
	return nil
}

// CheckHostSubnetFree runs CheckSubnetFree on this host's routing table.
func CheckHostSubnetFree(bridge, subnet string) error {
	prefix, err := ParseSubnet(subnet)
	if err != nil {
		return err
	}
	f, err := os.Open(ProcRoutes)
	if err != nil {
		return fmt.Errorf("network: read routes: %w", err)
	}
	defer f.Close()
	routes, err := ReadRoutes(f)
	if err != nil {
		return err
	}
	return CheckSubnetFree(routes, bridge, prefix)
}

// Package hostroute reads the host's IPv4 routing table.
package hostroute

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

// Proc is the kernel's IPv4 main routing table as text.
const Proc = "/proc/net/route"

// Route is one IPv4 route of the host: a destination reached through an
// interface.
type Route struct {
	Iface string
	Dst   netip.Prefix
}

// Read parses a routing table in the format of /proc/net/route: a
// header line, then one route per line whose destination and mask are
// 32-bit numbers in hex, in the host's byte order.
func Read(r io.Reader) ([]Route, error) {
	var routes []Route
	sc := bufio.NewScanner(r)
	for first := true; sc.Scan(); first = false {
		f := strings.Fields(sc.Text())
		if first || len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("hostroute: route line %q has %d fields, want at least 8", sc.Text(), len(f))
		}
		dst, err := parseHexAddr(f[1])
		if err != nil {
			return nil, fmt.Errorf("hostroute: route destination %q: %w", f[1], err)
		}
		mask, err := parseHexAddr(f[7])
		if err != nil {
			return nil, fmt.Errorf("hostroute: route mask %q: %w", f[7], err)
		}
		bits := maskBits(mask)
		if bits < 0 {
			return nil, fmt.Errorf("hostroute: route mask %s is not contiguous", mask)
		}
		routes = append(routes, Route{Iface: f[0], Dst: netip.PrefixFrom(dst, bits).Masked()})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("hostroute: read routes: %w", err)
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

// ReadFile reads the routing table at path, as Read parses it; Proc is
// this host's.
func ReadFile(path string) ([]Route, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("hostroute: %w", err)
	}
	defer f.Close()
	return Read(f)
}

// DefaultInterface returns the interface of the route to 0.0.0.0/0, or "".
func DefaultInterface(routes []Route) string {
	for _, r := range routes {
		if r.Dst.Bits() == 0 {
			return r.Iface
		}
	}
	return ""
}

package fake

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// hostsPerBlock is how many addresses of a /24 groups get: .2 to .254.
const hostsPerBlock = 253

// ipPool hands out group IPs, the lowest free one first: .2 to .254 of the
// first /24, then of the next ones up to the end of the /16.
type ipPool struct {
	prefix string
	// base is the first /24's network address; blocks is how many /24s
	// fit before the /16 ends.
	base   uint32
	blocks int
	used   []bool
	index  map[string]int
}

// newIPPool returns a pool for a prefix such as "10.241.0." (the trailing
// dot may be omitted).
func newIPPool(prefix string) (*ipPool, error) {
	trimmed := strings.TrimSuffix(prefix, ".")
	addr, err := netip.ParseAddr(trimmed + ".0")
	if err != nil || !addr.Is4() || strings.Count(trimmed, ".") != 2 {
		return nil, fmt.Errorf("fake: invalid subnet prefix %q: want three IPv4 octets and a dot, such as %q", prefix, defaultSubnet)
	}
	a := addr.As4()
	return &ipPool{
		prefix: trimmed + ".",
		base:   binary.BigEndian.Uint32(a[:]),
		blocks: 256 - int(a[2]),
		index:  make(map[string]int),
	}, nil
}

// allocate returns the lowest free address.
func (p *ipPool) allocate() (string, error) {
	i := 0
	for i < len(p.used) && p.used[i] {
		i++
	}
	if i >= p.blocks*hostsPerBlock {
		return "", &runtime.Error{Reason: runtime.ReasonCapacity,
			Message: fmt.Sprintf("no free IP address left after %s0/24", p.prefix)}
	}
	if i == len(p.used) {
		p.used = append(p.used, false)
	}
	p.used[i] = true
	ip := p.addr(i)
	p.index[ip] = i
	return ip, nil
}

// release frees an address; unknown ones (such as "") are ignored.
func (p *ipPool) release(ip string) {
	if i, ok := p.index[ip]; ok {
		p.used[i] = false
		delete(p.index, ip)
	}
}

// addr is the i-th address of the pool.
func (p *ipPool) addr(i int) string {
	n := p.base + uint32(i/hostsPerBlock)<<8 + uint32(2+i%hostsPerBlock)
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b).String()
}

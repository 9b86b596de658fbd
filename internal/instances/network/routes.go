package network

import (
	"fmt"
	"net/netip"

	"github.com/vnode-io/vnode/internal/hostroute"
)

// CheckSubnetFree returns an error when a route through an interface other
// than bridge is as specific as subnet or more and lies inside it: the
// kernel would send the groups' traffic there instead of to the bridge, so
// groups would start but be unreachable. That is what a bridge left behind
// by a killed earlier run (another name, the same subnet) does. Routes
// wider than subnet, such as the default route, are harmless: the bridge's
// own route is more specific.
func CheckSubnetFree(routes []hostroute.Route, bridge string, subnet netip.Prefix) error {
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
	routes, err := hostroute.ReadFile(hostroute.Proc)
	if err != nil {
		return fmt.Errorf("network: %w", err)
	}
	return CheckSubnetFree(routes, bridge, prefix)
}

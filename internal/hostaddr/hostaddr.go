// Package hostaddr finds the host's own IPv4 address: the one the API
// server advertises and the virtual node reports as its InternalIP.
package hostaddr

import (
	"net"

	"github.com/vnode-io/vnode/internal/hostroute"
)

// Default returns the IPv4 address of the interface that holds the
// default route, or of the first other non-loopback interface, or nil.
func Default() net.IP {
	routes, _ := hostroute.ReadFile(hostroute.Proc) // unreadable: no routes, so the fallback below
	if name := hostroute.DefaultInterface(routes); name != "" {
		if iface, err := net.InterfaceByName(name); err == nil {
			if ip := firstIPv4(iface); ip != nil {
				return ip
			}
		}
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagLoopback != 0 || iface.Flags&net.FlagUp == 0 {
			continue
		}
		if ip := firstIPv4(&iface); ip != nil {
			return ip
		}
	}
	return nil
}

func firstIPv4(iface *net.Interface) net.IP {
	addrs, err := iface.Addrs()
	if err != nil {
		return nil
	}
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil && !ipnet.IP.IsLoopback() {
			return ipnet.IP.To4()
		}
	}
	return nil
}

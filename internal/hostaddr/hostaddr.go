// Package hostaddr finds the host's own IPv4 address: the one the API
// server advertises and the virtual node reports as its InternalIP.
package hostaddr

import (
	"bufio"
	"net"
	"os"
	"strings"
)

// Default returns the IPv4 address of the interface that holds the
// default route, or of the first other non-loopback interface, or nil.
func Default() net.IP {
	if name := defaultRouteInterface("/proc/net/route"); name != "" {
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

// defaultRouteInterface reads the kernel's IPv4 routing table and returns
// the interface of the route to 0.0.0.0/0.
func defaultRouteInterface(routeTable string) string {
	f, err := os.Open(routeTable)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		// Iface Destination Gateway Flags RefCnt Use Metric Mask ...
		if len(fields) >= 8 && fields[1] == "00000000" && fields[7] == "00000000" {
			return fields[0]
		}
	}
	return ""
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

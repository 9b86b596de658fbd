package network

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/hostroute"
)

func TestCheckSubnetFree(t *testing.T) {
	subnet := netip.MustParsePrefix("10.241.250.0/24")
	route := func(iface, dst string) hostroute.Route {
		return hostroute.Route{Iface: iface, Dst: netip.MustParsePrefix(dst)}
	}
	for _, tc := range []struct {
		name   string
		routes []hostroute.Route
		taken  string // the interface the error must name; "" when free
	}{
		{"no routes", nil, ""},
		{"default and LAN routes", []hostroute.Route{route("eth0", "0.0.0.0/0"), route("eth0", "10.0.0.0/8")}, ""},
		{"the bridge's own route from an earlier start", []hostroute.Route{route("vnsys1", "10.241.250.0/24")}, ""},
		{"a neighbouring subnet", []hostroute.Route{route("vnsys2", "10.241.251.0/24")}, ""},
		{"a leftover bridge on the same subnet", []hostroute.Route{route("vnsys2", "10.241.250.0/24")}, "vnsys2"},
		{"a narrower route inside the subnet", []hostroute.Route{route("wg0", "10.241.250.128/25")}, "wg0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSubnetFree(tc.routes, "vnsys1", subnet)
			switch {
			case tc.taken == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.taken != "" && (err == nil || !strings.Contains(err.Error(), "through "+tc.taken)):
				t.Errorf("error = %v, want one naming %s", err, tc.taken)
			}
		})
	}
}

func TestCheckHostSubnetFreeReadsThisHost(t *testing.T) {
	// TEST-NET-2 is routed nowhere on a test machine.
	if err := CheckHostSubnetFree("vnode-none", "198.51.100.0/24"); err != nil {
		t.Fatal(err)
	}
	if err := CheckHostSubnetFree("vnode-none", "not-a-subnet"); err == nil {
		t.Fatal("a bad subnet was accepted")
	}
}

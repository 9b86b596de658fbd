package network

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"testing"
)

// procLine writes a route the way /proc/net/route does on this host.
func procLine(iface, dst, mask string) string {
	hexOf := func(s string) string {
		a := netip.MustParseAddr(s).As4()
		const digits = "0123456789ABCDEF"
		v := binary.NativeEndian.Uint32(a[:])
		out := make([]byte, 8)
		for i := 7; i >= 0; i-- {
			out[i] = digits[v&0xf]
			v >>= 4
		}
		return string(out)
	}
	return iface + "\t" + hexOf(dst) + "\t00000000\t0001\t0\t0\t0\t" + hexOf(mask) + "\t0\t0\t0"
}

func TestReadRoutes(t *testing.T) {
	table := strings.Join([]string{
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
		procLine("eth0", "0.0.0.0", "0.0.0.0"),
		procLine("vnode0", "10.241.0.0", "255.255.0.0"),
		procLine("eth0", "192.0.2.0", "255.255.255.0"),
	}, "\n") + "\n"
	routes, err := ReadRoutes(strings.NewReader(table))
	if err != nil {
		t.Fatal(err)
	}
	want := []Route{
		{Iface: "eth0", Dst: netip.MustParsePrefix("0.0.0.0/0")},
		{Iface: "vnode0", Dst: netip.MustParsePrefix("10.241.0.0/16")},
		{Iface: "eth0", Dst: netip.MustParsePrefix("192.0.2.0/24")},
	}
	if len(routes) != len(want) {
		t.Fatalf("routes = %v, want %v", routes, want)
	}
	for i := range want {
		if routes[i] != want[i] {
			t.Errorf("route %d = %v, want %v", i, routes[i], want[i])
		}
	}
}

func TestReadRoutesRefusesGarbage(t *testing.T) {
	for _, line := range []string{
		"eth0\tnothex\t0\t0\t0\t0\t0\t00000000",
		"eth0\t00000000\t0",
		procLine("eth0", "10.0.0.0", "255.0.255.0"),
	} {
		if _, err := ReadRoutes(strings.NewReader("header\n" + line + "\n")); err == nil {
			t.Errorf("ReadRoutes(%q) succeeded", line)
		}
	}
}

func TestCheckSubnetFree(t *testing.T) {
	subnet := netip.MustParsePrefix("10.241.250.0/24")
	route := func(iface, dst string) Route { return Route{Iface: iface, Dst: netip.MustParsePrefix(dst)} }
	for _, tc := range []struct {
		name   string
		routes []Route
		taken  string // the interface the error must name; "" when free
	}{
		{"no routes", nil, ""},
		{"default and LAN routes", []Route{route("eth0", "0.0.0.0/0"), route("eth0", "10.0.0.0/8")}, ""},
		{"the bridge's own route from an earlier start", []Route{route("vnsys1", "10.241.250.0/24")}, ""},
		{"a neighbouring subnet", []Route{route("vnsys2", "10.241.251.0/24")}, ""},
		{"a leftover bridge on the same subnet", []Route{route("vnsys2", "10.241.250.0/24")}, "vnsys2"},
		{"a narrower route inside the subnet", []Route{route("wg0", "10.241.250.128/25")}, "wg0"},
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

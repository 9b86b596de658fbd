package hostroute

import (
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
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

func TestRead(t *testing.T) {
	table := strings.Join([]string{
		"Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT",
		procLine("eth0", "0.0.0.0", "0.0.0.0"),
		procLine("vnode0", "10.241.0.0", "255.255.0.0"),
		procLine("eth0", "192.0.2.0", "255.255.255.0"),
	}, "\n") + "\n"
	routes, err := Read(strings.NewReader(table))
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

func TestReadRefusesGarbage(t *testing.T) {
	for _, line := range []string{
		"eth0\tnothex\t0\t0\t0\t0\t0\t00000000",
		"eth0\t00000000\t0",
		procLine("eth0", "10.0.0.0", "255.0.255.0"),
	} {
		if _, err := Read(strings.NewReader("header\n" + line + "\n")); err == nil {
			t.Errorf("Read(%q) succeeded", line)
		}
	}
}

func TestDefaultInterface(t *testing.T) {
	table := filepath.Join(t.TempDir(), "route")
	content := "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" +
		"eth1\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
	if err := os.WriteFile(table, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := mustDefault(t, table); got != "eth0" {
		t.Errorf("DefaultInterface = %q, want eth0", got)
	}
	if _, err := ReadFile(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("ReadFile of a missing table succeeded")
	}
}

func mustDefault(t *testing.T, path string) string {
	t.Helper()
	routes, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return DefaultInterface(routes)
}

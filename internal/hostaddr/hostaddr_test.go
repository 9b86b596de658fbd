package hostaddr

import (
	"os"
	"path/filepath"
	"testing"
)

func TestDefaultRouteInterface(t *testing.T) {
	table := filepath.Join(t.TempDir(), "route")
	content := "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n" +
		"eth1\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n" +
		"eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
	if err := os.WriteFile(table, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := defaultRouteInterface(table); got != "eth0" {
		t.Errorf("defaultRouteInterface = %q, want eth0", got)
	}
	if got := defaultRouteInterface(filepath.Join(t.TempDir(), "none")); got != "" {
		t.Errorf("defaultRouteInterface of a missing table = %q", got)
	}
}

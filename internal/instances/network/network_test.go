package network

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestCNIConfigDefaults(t *testing.T) {
	data, err := CNIConfig(Config{IPAMDir: "/var/lib/vnode/ipam"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatalf("conflist is not JSON: %v\n%s", err, data)
	}
	want := map[string]any{
		"cniVersion": "0.4.0",
		"name":       "vnode",
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      "vnode0",
				"isGateway":   true,
				"ipMasq":      true,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type": "host-local",
					"ranges": []any{[]any{map[string]any{
						"subnet":  "10.241.0.0/16",
						"gateway": "10.241.0.1",
					}}},
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
					"dataDir": "/var/lib/vnode/ipam",
				},
			},
			map[string]any{
				"type":         "portmap",
				"capabilities": map[string]any{"portMappings": true},
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("conflist:\n%s\nwant:\n%s", data, mustJSON(t, want))
	}
}

func TestCNIConfigCustom(t *testing.T) {
	data, err := CNIConfig(Config{Name: "n", Bridge: "br-test", Subnet: "192.168.7.0/24", Gateway: "192.168.7.254", IPAMDir: "/x", MTU: 1400})
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Name    string `json:"name"`
		Plugins []struct {
			Bridge string `json:"bridge"`
			MTU    int    `json:"mtu"`
			IPAM   struct {
				Ranges [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	b := got.Plugins[0]
	if got.Name != "n" || b.Bridge != "br-test" || b.MTU != 1400 ||
		b.IPAM.Ranges[0][0]["subnet"] != "192.168.7.0/24" || b.IPAM.Ranges[0][0]["gateway"] != "192.168.7.254" {
		t.Errorf("conflist:\n%s", data)
	}
}

func TestInvalidConfigs(t *testing.T) {
	for name, cfg := range map[string]Config{
		"no IPAM dir":        {},
		"relative IPAM dir":  {IPAMDir: "ipam"},
		"IPv6":               {Subnet: "fd00::/64", IPAMDir: "/x"},
		"prefix too short":   {Subnet: "10.0.0.0/7", IPAMDir: "/x"},
		"prefix too long":    {Subnet: "10.0.0.0/29", IPAMDir: "/x"},
		"not canonical":      {Subnet: "10.241.0.5/16", IPAMDir: "/x"},
		"garbage subnet":     {Subnet: "ten", IPAMDir: "/x"},
		"gateway outside":    {Gateway: "10.242.0.1", IPAMDir: "/x"},
		"gateway is network": {Gateway: "10.241.0.0", IPAMDir: "/x"},
		"gateway broadcast":  {Gateway: "10.241.255.255", IPAMDir: "/x"},
		"gateway garbage":    {Gateway: "gw", IPAMDir: "/x"},
		"bridge too long":    {Bridge: "a-very-long-bridge", IPAMDir: "/x"},
		"bridge with slash":  {Bridge: "a/b", IPAMDir: "/x"},
		"MTU too small":      {MTU: 100, IPAMDir: "/x"},
	} {
		if _, err := CNIConfig(cfg); err == nil {
			t.Errorf("%s: no error for %+v", name, cfg)
		}
	}
}

func TestParseSubnetBounds(t *testing.T) {
	for _, s := range []string{"10.0.0.0/8", "10.241.0.0/16", "10.241.0.16/28"} {
		if _, err := ParseSubnet(s); err != nil {
			t.Errorf("ParseSubnet(%s): %v", s, err)
		}
	}
	_, err := ParseSubnet("10.241.0.5/16")
	if err == nil || !strings.Contains(err.Error(), "10.241.0.0/16") {
		t.Errorf("non-canonical subnet: error %v should suggest the network address", err)
	}
}

func TestResolvedDerivesGateway(t *testing.T) {
	cfg, err := Config{Subnet: "10.9.8.16/28", IPAMDir: "/x"}.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Gateway != "10.9.8.17" || cfg.Bridge != DefaultBridge || cfg.Name != DefaultName {
		t.Errorf("resolved %+v", cfg)
	}
}

func TestWriteCNIConfig(t *testing.T) {
	dir := t.TempDir()
	confDir := filepath.Join(dir, "cni", "net.d")
	cfg := Config{IPAMDir: filepath.Join(dir, "ipam")}
	for i := 0; i < 2; i++ { // writing again replaces the file
		if err := WriteCNIConfig(confDir, cfg); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(confDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != FileName {
		t.Fatalf("conf dir holds %v, want only %s", entries, FileName)
	}
	data, err := os.ReadFile(filepath.Join(confDir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	want, err := CNIConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != string(want) {
		t.Errorf("file holds\n%s\nwant\n%s", data, want)
	}
	if fi, err := os.Stat(cfg.IPAMDir); err != nil || !fi.IsDir() {
		t.Errorf("IPAM dir not created: %v", err)
	}
	if err := WriteCNIConfig(confDir, Config{}); err == nil {
		t.Error("WriteCNIConfig accepted an invalid config")
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

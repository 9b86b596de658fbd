package up

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestWithoutDetach(t *testing.T) {
	got := withoutDetach([]string{"up", "--detach", "--state-dir", "/a", "--apiserver-port=7443", "--detach=true", "--state-dir=/b", "--bin-dir", "/bin"})
	want := []string{"up", "--apiserver-port=7443", "--bin-dir", "/bin"}
	if !slices.Equal(got, want) {
		t.Errorf("withoutDetach = %q, want %q", got, want)
	}
}

// Ports saved by a previous start are reused unless a flag overrides them.
func TestConfigLayersSavedStateUnderFlags(t *testing.T) {
	dir := t.TempDir()
	saved := map[string]any{"ports": map[string]int{"apiServer": 7443, "etcdClient": 7379}, "advertiseAddress": "203.0.113.77",
		"runtime": "fake", "groupSubnet": "10.250.0.0/16", "groupBridge": "vnsaved"}
	data, _ := json.Marshal(saved)
	if err := os.WriteFile(filepath.Join(dir, "cluster.json"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	f := &flags{}
	cmd := newCommand(f)
	if err := cmd.ParseFlags([]string{"--state-dir", dir, "--etcd-port", "8379", "--bridge", "vnflag"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.config(cmd.Flags())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Ports.APIServer != 7443 {
		t.Errorf("API server port %d, want the saved 7443", cfg.Ports.APIServer)
	}
	if cfg.Ports.EtcdClient != 8379 {
		t.Errorf("etcd port %d, want the flag's 8379", cfg.Ports.EtcdClient)
	}
	if cfg.Ports.Scheduler != 10259 {
		t.Errorf("scheduler port %d, want the default 10259", cfg.Ports.Scheduler)
	}
	if cfg.Runtime != "fake" || cfg.GroupSubnet != "10.250.0.0/16" || cfg.GroupBridge != "vnflag" {
		t.Errorf("runtime %q, subnet %q, bridge %q; want the saved fake and 10.250.0.0/16 and the flag's vnflag",
			cfg.Runtime, cfg.GroupSubnet, cfg.GroupBridge)
	}
	if cfg.AdvertiseAddress != "" {
		t.Errorf("a saved address that is not on this machine was kept: %q", cfg.AdvertiseAddress)
	}
}

package localcluster

import (
	"context"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/k8sbin"
	"github.com/vnode-io/vnode/internal/pki"
)

// fakeBinDir holds executable stand-ins for every binary, enough for
// validation.
func fakeBinDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, b := range k8sbin.All() {
		if err := os.WriteFile(filepath.Join(dir, b.Name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestNewValidates(t *testing.T) {
	bins := fakeBinDir(t)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"no state dir", Config{BinDir: bins}, "state directory"},
		{"no binaries", Config{StateDir: t.TempDir()}, "binaries"},
		{"missing binaries", Config{StateDir: t.TempDir(), BinDir: t.TempDir()}, "lacks"},
		{"same port twice", Config{StateDir: t.TempDir(), BinDir: bins, Ports: Ports{APIServer: 7000, Scheduler: 7000}}, "port 7000 is given to both"},
		{"port out of range", Config{StateDir: t.TempDir(), BinDir: bins, Ports: Ports{EtcdClient: 70000}}, "etcd port 70000 is out of range"},
		{"bad service CIDR", Config{StateDir: t.TempDir(), BinDir: bins, ServiceCIDR: "10.0.0.0"}, "service CIDR"},
		{"bad advertise address", Config{StateDir: t.TempDir(), BinDir: bins, AdvertiseAddress: "::1"}, "not an IPv4"},
		{"valid", Config{StateDir: t.TempDir(), BinDir: bins}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	c, err := New(Config{StateDir: "relative/state", BinDir: fakeBinDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.Config()
	if !filepath.IsAbs(cfg.StateDir) {
		t.Errorf("state dir %q is not absolute", cfg.StateDir)
	}
	if cfg.Ports != DefaultPorts() || cfg.ServiceCIDR != "10.0.0.0/16" || cfg.ClusterDomain != "cluster.local" {
		t.Errorf("defaults not applied: %+v", cfg)
	}
}

func TestServiceIP(t *testing.T) {
	ip, err := serviceIP("10.0.0.0/16")
	if err != nil || ip.String() != "10.0.0.1" {
		t.Errorf("serviceIP = %v, %v; want 10.0.0.1", ip, err)
	}
	if _, err := serviceIP("10.0.0.0/32"); err == nil {
		t.Error("a /32 service range was accepted")
	}
}

func TestEnsureCertsReusesCAAndReissuesOnAddressChange(t *testing.T) {
	l := layout{t.TempDir()}
	cfg, err := Config{StateDir: l.root, BinDir: "/bin"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	first := net.ParseIP("192.0.2.10").To4()
	report, err := ensureCerts(planCerts(l, cfg, first), now)
	if err != nil {
		t.Fatal(err)
	}
	plan := planCerts(l, cfg, first)
	if report.newCAs != 3 || report.issued != len(plan.leaves) {
		t.Fatalf("first run: %+v, want 3 CAs and %d certificates", report, len(plan.leaves))
	}
	ca, err := pki.Load(l.pki(), "ca")
	if err != nil {
		t.Fatal(err)
	}

	report, err = ensureCerts(plan, now)
	if err != nil || report != (certReport{}) {
		t.Fatalf("second run with the same plan: %+v, %v; want nothing new", report, err)
	}

	moved := net.ParseIP("192.0.2.20").To4()
	report, err = ensureCerts(planCerts(l, cfg, moved), now)
	if err != nil || report.newCAs != 0 || report.issued != 1 {
		t.Fatalf("after an address change: %+v, %v; want only the API server certificate reissued", report, err)
	}
	caAgain, err := pki.Load(l.pki(), "ca")
	if err != nil || !caAgain.Cert.Equal(ca.Cert) {
		t.Fatal("the CA changed")
	}
	server, err := pki.Load(l.pki(), "apiserver")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, name := range []string{"192.0.2.20", "10.0.0.1", "127.0.0.1", "kubernetes.default.svc.cluster.local"} {
		if _, err := server.Cert.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("API server certificate not valid for %s: %v", name, err)
		}
	}
}

func TestEtcdTrustsOnlyItsOwnCA(t *testing.T) {
	l := layout{t.TempDir()}
	cfg, _ := Config{StateDir: l.root, BinDir: "/bin"}.withDefaults()
	if _, err := ensureCerts(planCerts(l, cfg, net.ParseIP("192.0.2.10")), time.Now()); err != nil {
		t.Fatal(err)
	}
	etcdCA, err := pki.Load(l.etcdPKI(), "ca")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := pki.Load(l.pki(), "admin")
	if err != nil {
		t.Fatal(err)
	}
	if admin.Cert.CheckSignatureFrom(etcdCA.Cert) == nil {
		t.Error("a cluster client certificate verifies against etcd's CA")
	}
}

func TestCheckPortsFreeNamesComponent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	err = checkPortsFree([]portUse{{"kube-scheduler", "127.0.0.1", port}})
	if err == nil || !strings.Contains(err.Error(), "port "+strconv.Itoa(port)+" for kube-scheduler is already in use") {
		t.Errorf("err = %v", err)
	}
}

func TestLock(t *testing.T) {
	l := layout{t.TempDir()}
	first, err := acquireLock(l)
	if err != nil {
		t.Fatal(err)
	}
	if !locked(l) {
		t.Error("locked() = false while held")
	}
	if _, err := acquireLock(l); !errors.Is(err, errLocked) {
		t.Errorf("second acquire: %v, want errLocked", err)
	}
	releaseLock(l, first)
	if locked(l) {
		t.Error("locked() = true after release")
	}
	again, err := acquireLock(l)
	if err != nil {
		t.Fatalf("acquire after release: %v", err)
	}
	releaseLock(l, again)
}

func TestStatusAndDownOfStoppedCluster(t *testing.T) {
	dir := t.TempDir()
	if _, err := GetStatus(context.Background(), dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("status of an empty directory: %v, want not-exist", err)
	}
	cfg, _ := Config{StateDir: dir, BinDir: fakeBinDir(t), AdvertiseAddress: "192.0.2.10"}.withDefaults()
	if err := saveConfig(layout{dir}, cfg); err != nil {
		t.Fatal(err)
	}
	st, err := GetStatus(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Ready() || st.SupervisorPid != 0 || len(st.Components) != 4 {
		t.Errorf("status of a stopped cluster: %+v", st)
	}
	for _, c := range st.Components {
		if c.Running || c.Reason != "not running" {
			t.Errorf("%s: %+v", c.Name, c)
		}
	}
	wasRunning, err := Down(context.Background(), dir, time.Second)
	if err != nil || wasRunning {
		t.Errorf("Down of a stopped cluster = %v, %v", wasRunning, err)
	}
}

func TestSchedulerConfigRaisesClientRates(t *testing.T) {
	got := string(schedulerConfig(layout{"/state"}))
	for _, want := range []string{"kind: KubeSchedulerConfiguration", `kubeconfig: "/state/pki/scheduler.kubeconfig"`, "qps: 500", "burst: 1000", "leaderElect: false"} {
		if !strings.Contains(got, want) {
			t.Errorf("scheduler config lacks %q:\n%s", want, got)
		}
	}
}

func TestPrepareStateDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := prepareStateDir(filepath.Join(file, "state")); err == nil || !strings.Contains(err.Error(), "state directory") {
		t.Errorf("prepareStateDir under a file: %v", err)
	}
	if err := prepareStateDir(filepath.Join(t.TempDir(), "new")); err != nil {
		t.Errorf("prepareStateDir of a new directory: %v", err)
	}
}

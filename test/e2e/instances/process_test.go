package instances

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/instances/containerd"
	"github.com/vnode-io/vnode/internal/wire"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

// serveProcess is `vnode instances serve` running as a child process.
type serveProcess struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func startServe(t *testing.T, vnode, configPath string) *serveProcess {
	t.Helper()
	cmd := exec.Command(vnode, "instances", "serve", "--config", configPath)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProcess{cmd: cmd, log: &log}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	return p
}

// TestServeProcessSurvivesSIGKILL runs the real binary: state persists
// across a SIGKILL; the groups the in-process fake runtime ran died with
// the process and are reported so; SIGTERM stops it cleanly; the token is
// never logged.
func TestServeProcessSurvivesSIGKILL(t *testing.T) {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	vnode, err := framework.BuildVnode(c, dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const token = "process-test-token-5e0c"
	if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte(token+" "+testSub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf("listen: %s\ndataDir: data\ntokensFile: tokens\nruntime: fake\nlocations:\n- name: local\n  prices: {vcpuSecond: 0.00001, gbSecond: 0.000001}\n", addr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	files := wire.ClientFiles{Endpoint: "https://" + addr, Token: token, CAFile: filepath.Join(dir, "data", "tls", "ca.crt"),
		Subscription: testSub, ResourceGroup: testRG, Location: testLoc}
	proc := startServe(t, vnode, cfgPath)
	e := connect(t, files, proc)
	e.create("before-kill", group("img", 1, 1))
	e.waitState("before-kill", "Running")

	if err := proc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = proc.cmd.Wait()
	proc = startServe(t, vnode, cfgPath)
	e = connect(t, files, proc)
	g := e.get("before-kill")
	if state(g) != "Failed" || *g.Properties.Containers[0].Properties.InstanceView.CurrentState.DetailStatus != "Lost" {
		t.Errorf("a group whose runtime died with the process: state %s", state(g))
	}
	e.create("after-kill", group("img", 1, 1))
	e.waitState("after-kill", "Running")

	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- proc.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("vnode instances serve after SIGTERM: %v\n%s", err, proc.log)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("vnode instances serve did not stop on SIGTERM\n%s", proc.log)
	}
	if strings.Contains(proc.log.String(), token) {
		t.Error("the service logged its bearer token")
	}
	if l, err := net.Listen("tcp", addr); err != nil {
		t.Errorf("port still taken after stop: %v", err)
	} else {
		l.Close()
	}

	// A configuration error is reported with the file and a non-zero exit.
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("listen: x\nunknownField: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(vnode, "instances", "serve", "--config", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bad.yaml") || !strings.Contains(string(out), "unknownField") {
		t.Errorf("bad configuration: err %v\n%s", err, out)
	}
}

// connect waits until the process serves and returns an env bound to it.
func connect(t *testing.T, files wire.ClientFiles, proc *serveProcess) *env {
	t.Helper()
	waitFor(t, "the service to answer", 60*time.Second, func() (bool, string) {
		if proc.cmd.ProcessState != nil {
			t.Fatalf("vnode instances serve exited:\n%s", proc.log)
		}
		if _, err := os.Stat(files.CAFile); err != nil {
			return false, err.Error()
		}
		hc, err := files.HTTPClient()
		if err != nil {
			return false, err.Error()
		}
		resp, err := hc.Get(files.Endpoint + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	f, err := files.ClientFactory(-1)
	if err != nil {
		t.Fatal(err)
	}
	hc, err := files.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, files: files, groups: f.NewContainerGroupsClient(), ctrs: f.NewContainersClient(),
		loc: f.NewLocationClient(), ops: f.NewOperationsClient(), http: hc}
}

// TestServeProcessKeepsContainersAcrossSIGKILL runs the real binary with
// the containerd runtime: real containers keep running while the service
// is SIGKILLed, and the restarted service re-attaches to them.
func TestServeProcessKeepsContainersAcrossSIGKILL(t *testing.T) {
	framework.RequireContainerd(t)
	c, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	vnode, err := framework.BuildVnode(c, dir)
	if err != nil {
		t.Fatal(err)
	}
	_, refs := framework.StartImageRegistry(c, t, dir)
	bridge := fmt.Sprintf("vnk%d", os.Getpid()%100000)
	framework.RemoveEmptyDirsAtEnd(t, "/run/containerd", "/run/containerd/s")
	framework.DeleteLinkAtEnd(t, bridge)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const token = "kill-test-token"
	if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte(token+" "+testSub+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf("listen: %s\ndataDir: data\ntokensFile: tokens\nruntime: containerd\n"+
		"containerd: {sandboxImage: %q, bridge: %s, subnet: 10.244.0.0/24, stopTimeoutSeconds: 2}\n", addr, refs.Pause, bridge)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	// Last: remove whatever pods are left, with a containerd of the test's own.
	t.Cleanup(func() {
		d, err := containerd.Start(context.Background(), containerd.Config{Dir: filepath.Join(dir, "data", "containerd"),
			SandboxImage: refs.Pause, CNIConfDir: filepath.Join(dir, "data", "cni")})
		if err != nil {
			t.Errorf("containerd for cleanup: %v", err)
			return
		}
		if err := d.Cleanup(context.Background()); err != nil {
			t.Errorf("containerd cleanup: %v", err)
		}
	})
	files := wire.ClientFiles{Endpoint: "https://" + addr, Token: token, CAFile: filepath.Join(dir, "data", "tls", "ca.crt"),
		Subscription: testSub, ResourceGroup: testRG, Location: testLoc}

	proc := startServe(t, vnode, cfgPath)
	e := connect(t, files, proc)
	e.create("web", group(refs.Hello, 1, 1))
	ip := *e.waitState("web", "Running").Properties.IPAddress.IP
	answers := func() (bool, string) {
		resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + ip + "/healthz")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	}
	waitFor(t, "the group to answer", time.Minute, answers)

	if err := proc.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = proc.cmd.Wait()
	if ok, why := answers(); !ok {
		t.Errorf("the group stopped answering when the service was SIGKILLed: %s", why)
	}
	proc = startServe(t, vnode, cfgPath)
	e = connect(t, files, proc)
	if g := e.get("web"); state(g) != "Running" || *g.Properties.IPAddress.IP != ip {
		t.Errorf("after the restart: state %s, IP %v (was %s)", state(g), g.Properties.IPAddress.IP, ip)
	}
	dp, err := e.groups.BeginDelete(ctx(t), testRG, "web", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dp.PollUntilDone(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	if err := proc.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := proc.cmd.Wait(); err != nil {
		t.Errorf("vnode instances serve after SIGTERM: %v\n%s", err, proc.log)
	}
}

package instances

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/instances/client"
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
	if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg := fmt.Sprintf("listen: %s\ndataDir: data\ntokensFile: tokens\nruntime: fake\nlocations:\n- name: local\n  prices: {vcpuSecond: 0.00001, gbSecond: 0.000001}\n", addr)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	files := client.Files{Endpoint: "https://" + addr, Token: token, CAFile: filepath.Join(dir, "data", "tls", "ca.crt"),
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
func connect(t *testing.T, files client.Files, proc *serveProcess) *env {
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

package images

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vnode-io/vnode/internal/images/imagestest"
)

// hostFiles writes small stand-ins of the programs and files the e2e
// images carry.
func hostFiles(t *testing.T) AgnhostFiles {
	t.Helper()
	dir := t.TempDir()
	write := func(name, data string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return AgnhostFiles{
		Binary: write("agnhost", "#!/bin/sh\necho agnhost\n", 0o755),
		Cert:   write("localhost.crt", "certificate", 0o644),
		Key:    write("localhost.key", "key", 0o600),
	}
}

func TestAgnhost(t *testing.T) {
	requireBusybox(t)
	img, err := newBuilder().Agnhost(testContext(t), hostFiles(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := imagestest.CheckImage(t, img, "/agnhost")
	if got := strings.Join(cfg.Config.Cmd, " "); got != "pause" {
		t.Errorf("cmd = %q; want pause", got)
	}
	for _, p := range []string{"80/tcp", "8080/tcp", "8081/tcp", "9376/tcp", "5000/tcp"} {
		if _, ok := cfg.Config.ExposedPorts[p]; !ok {
			t.Errorf("port %s not exposed", p)
		}
	}
	fs := imagestest.Files(t, img)
	imagestest.CheckFile(t, fs, "agnhost", 0o755)
	checkSymlink(t, fs, "agnhost-2", "agnhost")
	checkSymlink(t, fs, "bin/sh", "busybox")
	checkSymlink(t, fs, "bin/wget", "busybox")
	imagestest.CheckFile(t, fs, "usr/bin/curl", 0o755)
	if got := string(imagestest.CheckFile(t, fs, "localhost.crt", 0o644).Data); got != "certificate" {
		t.Errorf("/localhost.crt = %q", got)
	}
	imagestest.CheckFile(t, fs, "localhost.key", 0o644)
	if f := fs["uploads"]; f.Header == nil || f.Header.Mode != 0o755 {
		t.Errorf("/uploads = %+v; want a directory", f.Header)
	}
	passwd := string(imagestest.CheckFile(t, fs, "etc/passwd", 0o644).Data)
	group := string(imagestest.CheckFile(t, fs, "etc/group", 0o644).Data)
	for _, want := range []string{"\nuser-defined-in-image:x:1000:1000:", "\nnobody:x:65534:"} {
		if !strings.Contains(passwd, want) {
			t.Errorf("/etc/passwd = %q lacks %q", passwd, want)
		}
	}
	if !strings.Contains(group, "\ngroup-defined-in-image:x:50000:user-defined-in-image\n") {
		t.Errorf("/etc/group = %q", group)
	}
}

func TestNonewprivs(t *testing.T) {
	img, err := Nonewprivs(hostFiles(t).Binary)
	if err != nil {
		t.Fatal(err)
	}
	cfg := imagestest.CheckImage(t, img, "")
	if got := strings.Join(cfg.Config.Cmd, " "); got != "nnp" {
		t.Errorf("cmd = %q; want nnp", got)
	}
	if got := strings.Join(cfg.Config.Env, " "); !strings.Contains(got, "/usr/local/bin") {
		t.Errorf("env = %q; want /usr/local/bin in PATH", got)
	}
	f := imagestest.CheckFile(t, imagestest.Files(t, img), "usr/local/bin/nnp", 0o4755)
	if f.Header.Uid != 0 {
		t.Errorf("nnp is owned by uid %d; want root", f.Header.Uid)
	}
}

// TestCurlStandIn runs the agnhost image's curl with the host's busybox
// against a local server: the body on stdout for the suite's options, and
// a refusal of any other option.
func TestCurlStandIn(t *testing.T) {
	requireBusybox(t)
	dir := t.TempDir()
	for _, applet := range []string{"sh", "wget"} {
		if err := os.Symlink(DefaultBusybox, filepath.Join(dir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	curl := filepath.Join(dir, "curl")
	if err := os.WriteFile(curl, []byte(curlStandIn), 0o755); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hostname: %s", r.URL.Query().Get("request"))
	}))
	defer srv.Close()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(curl, args...)
		cmd.Env = []string{"PATH=" + dir}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("-g", "-q", "-s", srv.URL+"/dial?request=hostname&tries=1"); err != nil || out != "hostname: hostname" {
		t.Errorf("curl -g -q -s URL = %q, %v", out, err)
	}
	if out, err := run("-X", "POST", srv.URL); err == nil || !strings.Contains(out, "unsupported option -X") {
		t.Errorf("curl -X POST = %q, %v; want a refusal", out, err)
	}
}

// Package imagestest holds the checks and process helpers that the tests of
// internal/images and the end-to-end tests of its images share: reading an
// image's files, checking what every vnode image has in common, and running
// a program that an image carries.
//
// It does not import internal/images, so that the tests of that package can
// import it.
package imagestest

import (
	"archive/tar"
	"bufio"
	"io"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// epoch is the time of every file, layer and image that internal/images
// makes: the Unix epoch.
var epoch = time.Unix(0, 0).UTC()

// File is what an image's layers hold at one path.
type File struct {
	Header *tar.Header
	Data   []byte
}

// Files reads every layer of img, later layers overriding earlier ones, and
// returns the entries by path without a leading or trailing slash. It fails
// the test unless every layer is a Docker gzip layer, and reports every entry
// that is not root-owned and dated at the epoch.
func Files(t testing.TB, img v1.Image) map[string]File {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]File{}
	for _, l := range layers {
		mt, err := l.MediaType()
		if err != nil || mt != types.DockerLayer {
			t.Fatalf("layer media type = %q, %v; want %q", mt, err, types.DockerLayer)
		}
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if !hdr.ModTime.Equal(epoch) || hdr.Uid != 0 || hdr.Gid != 0 {
				t.Errorf("%s: mtime %v uid %d gid %d; want epoch, root", hdr.Name, hdr.ModTime, hdr.Uid, hdr.Gid)
			}
			out[strings.TrimSuffix(hdr.Name, "/")] = File{Header: hdr, Data: data}
		}
		rc.Close()
	}
	return out
}

// CheckImage validates img and what every vnode image has in common (Docker
// schema 2 media types, linux on the host's architecture, created at the
// epoch, the given entrypoint joined by spaces) and returns its config.
func CheckImage(t testing.TB, img v1.Image, entrypoint string) *v1.ConfigFile {
	t.Helper()
	if err := validate.Image(img); err != nil {
		t.Fatalf("validate: %v", err)
	}
	if mt, err := img.MediaType(); err != nil || mt != types.DockerManifestSchema2 {
		t.Errorf("manifest media type = %q, %v", mt, err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.Config.MediaType != types.DockerConfigJSON {
		t.Errorf("config media type = %q", m.Config.MediaType)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.OS != "linux" || cfg.Architecture != runtime.GOARCH {
		t.Errorf("platform = %s/%s", cfg.OS, cfg.Architecture)
	}
	if !cfg.Created.Equal(epoch) {
		t.Errorf("created = %v; want the epoch", cfg.Created)
	}
	if got := strings.Join(cfg.Config.Entrypoint, " "); got != entrypoint {
		t.Errorf("entrypoint = %q; want %q", got, entrypoint)
	}
	digest, _ := img.Digest()
	size := int64(0)
	for _, l := range m.Layers {
		size += l.Size
	}
	t.Logf("%s: %d layer(s), %d bytes compressed, %s", entrypoint, len(m.Layers), size, digest)
	return cfg
}

// CheckFile requires fs (from Files) to hold a non-empty regular file with
// the given mode at path, and returns it.
func CheckFile(t testing.TB, fs map[string]File, path string, mode int64) File {
	t.Helper()
	f, ok := fs[path]
	if !ok {
		t.Fatalf("%s missing", path)
	}
	if f.Header.Typeflag != tar.TypeReg || f.Header.Mode != mode || len(f.Data) == 0 {
		t.Errorf("%s: type %c mode %o size %d; want regular, %o, non-empty", path, f.Header.Typeflag, f.Header.Mode, len(f.Data), mode)
	}
	return f
}

// Digest returns the digest of img, failing the test when it has none.
func Digest(t testing.TB, img v1.Image) v1.Hash {
	t.Helper()
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// StartBinary runs bin with args and this process's environment plus env,
// and kills it at cleanup unless it has been waited for (Stop). Its combined
// output must be read, through the returned scanner (WaitLine), for it to
// make progress.
func StartBinary(t testing.TB, bin string, args []string, env ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		pw.Close()
		pr.Close()
	})
	return cmd, bufio.NewScanner(pr)
}

// WaitLine reads output until a line matches re, within 30 seconds, and
// returns its submatches; the rest of the output is drained in the
// background.
func WaitLine(t testing.TB, out *bufio.Scanner, re *regexp.Regexp) []string {
	t.Helper()
	found := make(chan []string, 1)
	go func() {
		sent := false
		for out.Scan() {
			if m := re.FindStringSubmatch(out.Text()); m != nil && !sent {
				found <- m
				sent = true
			}
		}
		if !sent {
			close(found)
		}
	}()
	timer := time.NewTimer(30 * time.Second)
	defer timer.Stop()
	select {
	case m, ok := <-found:
		if !ok {
			t.Fatalf("output ended without a line matching %s", re)
		}
		return m
	case <-timer.C:
		t.Fatalf("no line matching %s within 30s", re)
	}
	return nil
}

// Stop sends sig to cmd (from StartBinary) and requires it to exit with
// status 0 within 15 seconds.
func Stop(t testing.TB, cmd *exec.Cmd, sig syscall.Signal) {
	t.Helper()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("after %v: %v; want exit 0", sig, err)
		}
	case <-timer.C:
		t.Fatalf("still running 15s after %v", sig)
	}
}

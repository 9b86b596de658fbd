package k8sbin

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vnode-io/vnode/internal/pki"
)

// formatVersion changes whenever the way binaries are built changes, so
// that old cache entries are not reused.
const formatVersion = "1"

// Builder builds the binaries of the pins under SourceDir into CacheDir.
type Builder struct {
	// SourceDir is hack/controlplane of a vnode source tree. Required.
	SourceDir string
	// CacheDir is the cache root. Required.
	CacheDir string
	// GoCommand is the go tool to build with; "go" when empty.
	GoCommand string
	// Progress receives a line per step and periodic progress while a
	// binary builds; io.Discard when nil.
	Progress io.Writer
	// ProgressInterval is how often a long build reports; 15s when zero.
	ProgressInterval time.Duration
}

// Ensure returns the set for the current pins, building what is missing or
// broken. A complete set is returned without running any build.
func (b *Builder) Ensure(ctx context.Context) (Set, error) {
	if err := b.defaults(); err != nil {
		return Set{}, err
	}
	key, err := b.key(ctx)
	if err != nil {
		return Set{}, err
	}
	dir := setDir(b.CacheDir, key)
	problem := check(dir)
	if problem == nil {
		return Set{Dir: dir}, b.markCurrent(key)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Set{}, fmt.Errorf("create binary cache %s: %w", dir, err)
	}
	fmt.Fprintf(b.Progress, "building the control-plane binaries into %s (%v); a cold build takes about 15 minutes on 2 cores\n", dir, problem)
	m := manifest{Key: key, Binaries: map[string]binaryRecord{}}
	all := All()
	for i, bin := range all {
		start := time.Now()
		fmt.Fprintf(b.Progress, "[%d/%d] building %s %s\n", i+1, len(all), bin.Name, bin.Version)
		size, err := b.build(ctx, bin, dir)
		if err != nil {
			return Set{}, err
		}
		fmt.Fprintf(b.Progress, "[%d/%d] built %s in %s\n", i+1, len(all), bin.Name, time.Since(start).Round(time.Second))
		m.Binaries[bin.Name] = binaryRecord{Package: bin.Package, Version: bin.Version, Size: size}
	}
	if err := writeManifest(dir, m); err != nil {
		return Set{}, err
	}
	return Set{Dir: dir}, b.markCurrent(key)
}

func (b *Builder) defaults() error {
	if b.SourceDir == "" || b.CacheDir == "" {
		return errors.New("k8sbin: SourceDir and CacheDir are required")
	}
	if b.GoCommand == "" {
		b.GoCommand = "go"
	}
	if b.Progress == nil {
		b.Progress = io.Discard
	}
	if b.ProgressInterval == 0 {
		b.ProgressInterval = 15 * time.Second
	}
	if _, err := exec.LookPath(b.GoCommand); err != nil {
		return fmt.Errorf("the Go toolchain builds the control-plane binaries once, but %q was not found: %w", b.GoCommand, err)
	}
	return nil
}

// key identifies a build: the pins, the Go release and the build recipe.
func (b *Builder) key(ctx context.Context) (string, error) {
	goVersion, err := exec.CommandContext(ctx, b.GoCommand, "env", "GOVERSION", "GOARCH").Output()
	if err != nil {
		return "", fmt.Errorf("ask %s for its version: %w", b.GoCommand, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "format %s\n%s", formatVersion, goVersion)
	for _, module := range []string{"etcd", "kubernetes"} {
		for _, file := range []string{"go.mod", "go.sum"} {
			path := filepath.Join(b.SourceDir, module, file)
			data, err := os.ReadFile(path)
			if err != nil {
				return "", fmt.Errorf("read control-plane pin: %w", err)
			}
			fmt.Fprintf(h, "%s/%s %d\n", module, file, len(data))
			h.Write(data)
		}
	}
	for _, bin := range All() {
		fmt.Fprintf(h, "%s %s %s\n", bin.Name, bin.Package, strings.Join(ldflags(bin), " "))
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (b *Builder) markCurrent(key string) error {
	return pki.WriteFile(filepath.Join(b.CacheDir, "controlplane", currentFile), []byte(key+"\n"), 0o644)
}

// build compiles one binary into dir and returns its size.
func (b *Builder) build(ctx context.Context, bin Binary, dir string) (int64, error) {
	tmp := filepath.Join(dir, "."+bin.Name+".tmp")
	defer os.Remove(tmp) //nolint:errcheck // absent after a successful rename
	args := []string{"build", "-v", "-trimpath", "-ldflags", strings.Join(ldflags(bin), " "), "-o", tmp, bin.Package}
	cmd := exec.CommandContext(ctx, b.GoCommand, args...)
	cmd.Dir = filepath.Join(b.SourceDir, bin.Module)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return 0, fmt.Errorf("build %s: %w", bin.Name, err)
	}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("build %s: start %s: %w", bin.Name, b.GoCommand, err)
	}
	// All output must be read before Wait, which closes the pipe.
	messages := b.watchBuild(bin.Name, stderr)()
	waitErr := cmd.Wait()
	if waitErr != nil {
		if ctx.Err() != nil {
			return 0, fmt.Errorf("build %s: %w", bin.Name, ctx.Err())
		}
		return 0, fmt.Errorf("build %s (%s in %s): %w\n%s", bin.Name, bin.Package, cmd.Dir, waitErr, messages)
	}
	info, err := os.Stat(tmp)
	if err != nil {
		return 0, fmt.Errorf("build %s: %w", bin.Name, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, bin.Name)); err != nil {
		return 0, fmt.Errorf("build %s: %w", bin.Name, err)
	}
	return info.Size(), nil
}

// watchBuild counts the packages `go build -v` reports, prints progress
// every ProgressInterval, and keeps the last lines that are not package
// names (compiler messages). The returned function waits for the output to
// end and returns those messages.
func (b *Builder) watchBuild(name string, r io.Reader) func() string {
	var compiled atomic.Int64
	var messages []string
	start := time.Now()
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		ticker := time.NewTicker(b.ProgressInterval)
		defer ticker.Stop()
		for {
			select {
			case <-done:
				return
			case <-ticker.C:
				fmt.Fprintf(b.Progress, "      %s: %d packages compiled, %s\n", name, compiled.Load(), time.Since(start).Round(time.Second))
			}
		}
	}()
	go func() {
		defer wg.Done()
		defer close(done)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			if isPackageLine(line) {
				compiled.Add(1)
				continue
			}
			messages = append(messages, line)
			if len(messages) > 40 {
				messages = messages[1:]
			}
		}
	}()
	return func() string {
		wg.Wait()
		return strings.Join(messages, "\n")
	}
}

// isPackageLine reports whether line is a package path printed by -v
// rather than a message from the compiler or the go command.
func isPackageLine(line string) bool {
	return line != "" && !strings.ContainsAny(line, " \t:") && !strings.HasPrefix(line, "#")
}

// ldflags sets the version strings that Kubernetes binaries otherwise
// report as v0.0.0-master (kubectl version refuses such a server).
func ldflags(bin Binary) []string {
	flags := []string{"-s", "-w"}
	if bin.Module != "kubernetes" {
		return flags
	}
	major, minor := majorMinor(bin.Version)
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		flags = append(flags,
			"-X", pkg+".gitVersion="+bin.Version,
			"-X", pkg+".gitMajor="+major,
			"-X", pkg+".gitMinor="+minor,
			"-X", pkg+".gitTreeState=clean",
		)
	}
	return flags
}

func majorMinor(v string) (string, string) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 {
		return "", ""
	}
	return parts[0], parts[1]
}

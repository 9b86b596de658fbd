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

// Builder builds the binaries of a kit from the pins under SourceDir into
// CacheDir.
type Builder struct {
	// SourceDir is hack/controlplane of a vnode source tree. Required.
	SourceDir string
	// Kit is what to build; ControlPlane() when its Name is empty.
	Kit Kit
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
	dir := setDir(b.CacheDir, b.Kit.Name, key)
	problem := check(dir, b.Kit)
	if problem == nil {
		return Set{Dir: dir}, b.markCurrent(key)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Set{}, fmt.Errorf("create binary cache %s: %w", dir, err)
	}
	fmt.Fprintf(b.Progress, "building %s into %s (%v); a cold build takes %s on 2 cores\n", b.Kit.What, dir, problem, b.Kit.ColdBuild)
	m := manifest{Key: key, Binaries: map[string]binaryRecord{}}
	all := b.Kit.Binaries
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
	if err := b.copyFiles(ctx, dir, &m); err != nil {
		return Set{}, err
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
	if b.Kit.Name == "" {
		b.Kit = ControlPlane()
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
// The control-plane kit's key is what it was before kits existed, so that
// its cache entries stay valid.
func (b *Builder) key(ctx context.Context) (string, error) {
	goVersion, err := exec.CommandContext(ctx, b.GoCommand, "env", "GOVERSION", "GOARCH").Output()
	if err != nil {
		return "", fmt.Errorf("ask %s for its version: %w", b.GoCommand, err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "format %s\n%s", formatVersion, goVersion)
	for _, module := range b.Kit.Modules {
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
	for _, bin := range b.Kit.Binaries {
		fmt.Fprintf(h, "%s %s %s", bin.Name, bin.Package, strings.Join(ldflags(bin), " "))
		if bin.Tests {
			io.WriteString(h, " tests")
		}
		io.WriteString(h, "\n")
	}
	for _, f := range b.Kit.Files {
		fmt.Fprintf(h, "file %s %s %s %s\n", f.Name, f.Module, f.ModulePath, f.Path)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

func (b *Builder) markCurrent(key string) error {
	return pki.WriteFile(filepath.Join(b.CacheDir, b.Kit.Name, currentFile), []byte(key+"\n"), 0o644)
}

// build compiles one binary into dir and returns its size.
func (b *Builder) build(ctx context.Context, bin Binary, dir string) (int64, error) {
	tmp := filepath.Join(dir, "."+bin.Name+".tmp")
	defer os.Remove(tmp) //nolint:errcheck // absent after a successful rename
	// go test -c has no -v of go build's kind (its -v is the test's), so
	// a test binary's progress is its build time alone; it would also vet
	// the package, which a build of a pinned release does not need.
	args := []string{"build", "-v"}
	if bin.Tests {
		args = []string{"test", "-c", "-vet=off"}
	}
	args = append(args, "-trimpath", "-ldflags", strings.Join(ldflags(bin), " "), "-o", tmp, bin.Package)
	cmd := b.goCmd(ctx, bin.Module, args...)
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
				if n := compiled.Load(); n > 0 {
					fmt.Fprintf(b.Progress, "      %s: %d packages compiled, %s\n", name, n, time.Since(start).Round(time.Second))
				} else {
					fmt.Fprintf(b.Progress, "      %s: compiling, %s\n", name, time.Since(start).Round(time.Second))
				}
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

// goCmd is the go command run in the pin module's directory with the
// settings of every build: static, the pin's go.sum as it is, no VCS stamp.
func (b *Builder) goCmd(ctx context.Context, module string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, b.GoCommand, args...)
	cmd.Dir = filepath.Join(b.SourceDir, module)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOWORK=off", "GOFLAGS=-mod=readonly -buildvcs=false")
	return cmd
}

// ldflags sets the version strings that Kubernetes binaries otherwise
// report as v0.0.0-master (kubectl version refuses such a server), or a
// test image's main.Version.
func ldflags(bin Binary) []string {
	flags := []string{"-s", "-w"}
	switch bin.Stamp {
	case StampMain:
		return append(flags, "-X", "main.Version="+bin.Version)
	case StampKubernetes:
	default:
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

// copyFiles copies the kit's files from the module cache into dir and
// records them in m.
func (b *Builder) copyFiles(ctx context.Context, dir string, m *manifest) error {
	if len(b.Kit.Files) == 0 {
		return nil
	}
	m.Files = map[string]fileRecord{}
	for _, f := range b.Kit.Files {
		out, err := b.goCmd(ctx, f.Module, "list", "-m", "-f", "{{.Dir}}", f.ModulePath).Output()
		if err != nil {
			return fmt.Errorf("find module %s for %s: %w", f.ModulePath, f.Name, err)
		}
		moduleDir := strings.TrimSpace(string(out))
		if moduleDir == "" {
			return fmt.Errorf("find module %s for %s: not in the module cache", f.ModulePath, f.Name)
		}
		data, err := os.ReadFile(filepath.Join(moduleDir, filepath.FromSlash(f.Path)))
		if err != nil {
			return fmt.Errorf("copy %s: %w", f.Name, err)
		}
		if err := pki.WriteFile(filepath.Join(dir, f.Name), data, 0o644); err != nil {
			return fmt.Errorf("copy %s: %w", f.Name, err)
		}
		m.Files[f.Name] = fileRecord{Module: f.ModulePath, Path: f.Path, Size: int64(len(data))}
	}
	return nil
}

package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// recipeVersion changes whenever the way programs are built changes, so that
// old cache entries are not reused.
const recipeVersion = "1"

// goMod is the go.mod of the temporary module an embedded program, which
// needs only the standard library, is built in.
const goMod = "module vnode.local/%s\n\ngo 1.22\n"

// toolchain is what the cache key needs to know about the Go tool.
type toolchain struct {
	version string // go env GOVERSION
	goflags string // go env GOFLAGS without -mod settings
}

// module is the temporary module a program is built in: its go.mod and its
// main.go, and whether the go command must resolve its requirements first.
type module struct {
	program string
	goMod   []byte
	main    []byte
	// tidy runs go mod tidy before the build, to complete go.mod and write
	// go.sum; it needs the module proxy unless the module cache holds every
	// dependency.
	tidy bool
}

// stdModule is the module of an embedded program that needs only the
// standard library.
func stdModule(program string, src []byte) module {
	return module{program: program, goMod: fmt.Appendf(nil, goMod, program), main: src}
}

// binary returns the path of the static binary of the embedded program in
// the cache, building it first when the cache lacks it.
func (b *Builder) binary(ctx context.Context, program string) (string, error) {
	src, err := source(program)
	if err != nil {
		return "", err
	}
	return b.moduleBinary(ctx, stdModule(program, src))
}

// moduleBinary returns the path of the static binary of m in the cache,
// building it first when the cache lacks it.
func (b *Builder) moduleBinary(ctx context.Context, m module) (string, error) {
	tc, err := b.toolchain(ctx)
	if err != nil {
		return "", fmt.Errorf("images: build %s: %w", m.program, err)
	}
	dir, err := b.cacheDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, m.program+"-"+cacheKey(m, tc.version))
	if cached(path) {
		return path, nil
	}
	sem, _ := b.builds.LoadOrStore(path, make(chan struct{}, 1))
	select {
	case sem.(chan struct{}) <- struct{}{}:
		defer func() { <-sem.(chan struct{}) }()
	case <-ctx.Done():
		return "", fmt.Errorf("images: build %s: %w", m.program, ctx.Err())
	}
	if cached(path) { // built by the caller we waited for
		return path, nil
	}
	if err := b.compile(ctx, m, tc, path); err != nil {
		return "", err
	}
	return path, nil
}

// cached tells whether path holds a built binary.
func cached(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Size() > 0
}

// cacheKey names a build: recipe, program, module files, Go release and
// target.
func cacheKey(m module, goVersion string) string {
	h := sha256.New()
	fmt.Fprintf(h, "recipe %s\nprogram %s\ngo %s\nlinux/%s\n", recipeVersion, m.program, goVersion, runtime.GOARCH)
	h.Write(m.goMod)
	h.Write(m.main)
	if m.tidy {
		io.WriteString(h, "\ntidy\n")
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// cacheDir returns CacheDir, or the user cache directory's vnode/images,
// creating it.
func (b *Builder) cacheDir() (string, error) {
	dir := b.CacheDir
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("images: cache directory: %w", err)
		}
		dir = filepath.Join(base, "vnode", "images")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("images: cache directory: %w", err)
	}
	return dir, nil
}

// goCommand is Go, or "go" from PATH.
func (b *Builder) goCommand() string {
	if b.Go != "" {
		return b.Go
	}
	return "go"
}

// toolchain asks the Go tool for its release and GOFLAGS.
func (b *Builder) toolchain(ctx context.Context) (toolchain, error) {
	cmd := exec.CommandContext(ctx, b.goCommand(), "env", "GOVERSION", "GOFLAGS")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return toolchain{}, fmt.Errorf("go env: %w: %s", err, tail(stderr.Bytes()))
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) < 1 || lines[0] == "" {
		return toolchain{}, fmt.Errorf("go env: no GOVERSION in %q", out)
	}
	tc := toolchain{version: lines[0]}
	if len(lines) > 1 {
		tc.goflags = withoutModFlags(lines[1])
	}
	return tc, nil
}

// withoutModFlags drops -mod and -modfile settings from a GOFLAGS value:
// the temporary module has no vendor directory and no other go.mod.
func withoutModFlags(goflags string) string {
	var kept []string
	for _, f := range strings.Fields(goflags) {
		name := strings.TrimLeft(f, "-")
		if strings.HasPrefix(name, "mod=") || strings.HasPrefix(name, "modfile=") {
			continue
		}
		kept = append(kept, f)
	}
	return strings.Join(kept, " ")
}

// compile builds m into out through a temporary module.
func (b *Builder) compile(ctx context.Context, m module, tc toolchain, out string) error {
	work, err := os.MkdirTemp("", "vnode-images-"+m.program+"-")
	if err != nil {
		return fmt.Errorf("images: build %s: %w", m.program, err)
	}
	defer os.RemoveAll(work)
	if err := writeModule(work, m); err != nil {
		return fmt.Errorf("images: build %s: %w", m.program, err)
	}
	env := buildEnv(os.Environ(), tc.goflags)
	if m.tidy {
		cmd := exec.CommandContext(ctx, b.goCommand(), "mod", "tidy")
		cmd.Dir = work
		cmd.Env = env
		if output, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("images: build %s: go mod tidy: %w: %s", m.program, err, tail(output))
		}
	}
	tmp, err := reserveTemp(filepath.Dir(out), filepath.Base(out))
	if err != nil {
		return fmt.Errorf("images: build %s: %w", m.program, err)
	}
	cmd := exec.CommandContext(ctx, b.goCommand(), "build", "-trimpath", "-ldflags=-s -w", "-o", tmp, ".")
	cmd.Dir = work
	cmd.Env = env
	output, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("images: build %s: %w: %s", m.program, err, tail(output))
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("images: build %s: %w", m.program, err)
	}
	return nil
}

// reserveTemp creates an empty temporary file in dir for go build to
// overwrite, so concurrent builds never share a file before the rename.
func reserveTemp(dir, base string) (string, error) {
	f, err := os.CreateTemp(dir, "."+base+"-*.tmp")
	if err != nil {
		return "", err
	}
	name := f.Name()
	if err := f.Close(); err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}

// writeModule writes go.mod and main.go of m into dir.
func writeModule(dir string, m module) error {
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), m.goMod, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "main.go"), m.main, 0o644)
}

// buildEnv is env with the settings of a static linux build for the host's
// architecture, outside any workspace, with goflags as GOFLAGS.
func buildEnv(env []string, goflags string) []string {
	set := map[string]string{
		"CGO_ENABLED": "0",
		"GOOS":        "linux",
		"GOARCH":      runtime.GOARCH,
		"GOWORK":      "off",
		"GO111MODULE": "on",
		"GOFLAGS":     goflags,
	}
	out := make([]string, 0, len(env)+len(set))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	for k, v := range set {
		out = append(out, k+"="+v)
	}
	return out
}

// tail is the last lines of a command's output, for error messages.
func tail(output []byte) string {
	const maxLines, maxBytes = 20, 2000
	s := strings.TrimSpace(string(output))
	lines := strings.Split(s, "\n")
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	s = strings.Join(lines, "\n")
	if len(s) > maxBytes {
		s = s[len(s)-maxBytes:]
	}
	return s
}

package k8sbin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vnode-io/vnode/internal/pki"
)

const (
	manifestFile = "manifest.json"
	currentFile  = "current"
)

// Set is a cache directory that holds a complete build of every binary.
type Set struct {
	Dir string
}

// Path returns the path of the binary called name.
func (s Set) Path(name string) string {
	return filepath.Join(s.Dir, name)
}

// manifest records what a Set holds; it is written last, so its presence
// means the build finished.
type manifest struct {
	Key      string                  `json:"key"`
	Binaries map[string]binaryRecord `json:"binaries"`
	Files    map[string]fileRecord   `json:"files,omitempty"`
}

type fileRecord struct {
	Module string `json:"module"`
	Path   string `json:"path"`
	Size   int64  `json:"size"`
}

type binaryRecord struct {
	Package string `json:"package"`
	Version string `json:"version"`
	Size    int64  `json:"size"`
}

// DefaultCacheDir is $VNODE_CACHE_DIR, else vnode under the user's cache
// directory (~/.cache/vnode).
func DefaultCacheDir() (string, error) {
	if dir := os.Getenv("VNODE_CACHE_DIR"); dir != "" {
		return dir, nil
	}
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("find the cache directory (set VNODE_CACHE_DIR): %w", err)
	}
	return filepath.Join(base, "vnode"), nil
}

func setDir(cacheDir, kit, key string) string {
	return filepath.Join(cacheDir, kit, key)
}

// check reports what is wrong with the set of kit in dir: nil when every
// binary is present, executable and of the recorded size, and every file
// present and of the recorded size.
func check(dir string, kit Kit) error {
	data, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return errors.New("not built yet")
		}
		return fmt.Errorf("read manifest: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("broken manifest %s: %w", filepath.Join(dir, manifestFile), err)
	}
	var problems []string
	for _, b := range kit.Binaries {
		rec, ok := m.Binaries[b.Name]
		if !ok {
			problems = append(problems, b.Name+" missing from manifest")
			continue
		}
		if err := checkBinary(filepath.Join(dir, b.Name), rec.Size); err != nil {
			problems = append(problems, err.Error())
		}
	}
	for _, f := range kit.Files {
		rec, ok := m.Files[f.Name]
		if !ok {
			problems = append(problems, f.Name+" missing from manifest")
			continue
		}
		if err := checkFile(filepath.Join(dir, f.Name), rec.Size); err != nil {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func checkBinary(path string, size int64) error {
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	case !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("%s is not an executable file", path)
	case info.Size() != size:
		return fmt.Errorf("%s has %d bytes, %d were built", path, info.Size(), size)
	}
	return nil
}

func checkFile(path string, size int64) error {
	info, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", filepath.Base(path), err)
	case !info.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case info.Size() != size:
		return fmt.Errorf("%s has %d bytes, %d were copied", path, info.Size(), size)
	}
	return nil
}

func writeManifest(dir string, m manifest) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	return pki.WriteFile(filepath.Join(dir, manifestFile), data, 0o644)
}

// Current returns the set built most recently in cacheDir, for callers that
// run without the source tree and therefore cannot compute the key.
func Current(cacheDir string) (Set, error) {
	key, err := os.ReadFile(filepath.Join(cacheDir, "controlplane", currentFile))
	if err != nil {
		return Set{}, fmt.Errorf("no control-plane binaries in %s: run `make controlplane` in a vnode source tree, or pass --bin-dir", cacheDir)
	}
	dir := setDir(cacheDir, ControlPlane().Name, strings.TrimSpace(string(key)))
	if err := check(dir, ControlPlane()); err != nil {
		return Set{}, fmt.Errorf("control-plane binaries in %s are unusable (%v): run `make controlplane` in a vnode source tree to rebuild them", dir, err)
	}
	return Set{Dir: dir}, nil
}

// CheckDir verifies that dir holds every binary, for a directory given by
// the user rather than built by vnode.
func CheckDir(dir string) (Set, error) {
	var missing []string
	for _, b := range All() {
		info, err := os.Stat(filepath.Join(dir, b.Name))
		if err != nil || !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			missing = append(missing, b.Name)
		}
	}
	if len(missing) > 0 {
		return Set{}, fmt.Errorf("binary directory %s lacks executable %s", dir, strings.Join(missing, ", "))
	}
	return Set{Dir: dir}, nil
}

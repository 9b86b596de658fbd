package cri

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Names a secret volume's directory holds besides its files, as the
// kubelet's AtomicWriter lays them out: the data sits in a hidden directory
// "..<time>.<random>", "..data" links to it, and each file name links to
// "..data/<name>". Swapping "..data" (a rename) changes every file at once.
const (
	dataLink    = "..data"
	newDataLink = "..data_tmp"
	newFileLink = "..file_tmp"
	// hiddenPrefix starts every name the writer keeps for itself.
	hiddenPrefix = ".."
)

// errBadFileName refuses a file name that is not a plain name or starts
// with "..".
var errBadFileName = errors.New("bad file name")

// writeAtomic makes dir (which exists) hold exactly files, changing them
// all at once for a reader: the new data goes to a new hidden directory,
// "..data" is swapped to it, names no longer present are removed and new
// ones linked, then older data directories are deleted. Files are mode
// 0644. Nothing is written when dir already holds exactly files.
func writeAtomic(dir string, files map[string][]byte, now time.Time) error {
	if err := checkFileNames(files); err != nil {
		return err
	}
	if same, err := holds(dir, files); err != nil || same {
		return err
	}
	data, err := writeDataDir(dir, files, now)
	if err != nil {
		return err
	}
	if err := swapLink(dir, newDataLink, dataLink, data); err != nil {
		return err
	}
	if err := linkFiles(dir, files); err != nil {
		return err
	}
	return removeStale(dir, files, data)
}

// checkFileNames refuses names that are not plain file names or that start
// with "..", which the writer keeps for itself.
func checkFileNames(files map[string][]byte) error {
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if name != filepath.Base(name) || name == "." || strings.HasPrefix(name, hiddenPrefix) {
			return fmt.Errorf("%w %q", errBadFileName, name)
		}
	}
	return nil
}

// holds reports whether dir's current data is exactly files, with every
// name linked.
func holds(dir string, files map[string][]byte) (bool, error) {
	data := filepath.Join(dir, dataLink)
	entries, err := os.ReadDir(data)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read %s: %w", data, err)
	}
	if len(entries) != len(files) {
		return false, nil
	}
	for _, e := range entries {
		want, ok := files[e.Name()]
		if !ok {
			return false, nil
		}
		got, err := os.ReadFile(filepath.Join(data, e.Name()))
		if err != nil || !bytes.Equal(got, want) {
			return false, nil
		}
		if target, err := os.Readlink(filepath.Join(dir, e.Name())); err != nil || target != filepath.Join(dataLink, e.Name()) {
			return false, nil
		}
	}
	return true, nil
}

// writeDataDir writes files to a new hidden directory of dir and returns
// its name.
func writeDataDir(dir string, files map[string][]byte, now time.Time) (string, error) {
	data, err := os.MkdirTemp(dir, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return "", fmt.Errorf("create a data directory in %s: %w", dir, err)
	}
	if err := os.Chmod(data, 0o755); err != nil {
		return "", fmt.Errorf("data directory %s: %w", data, err)
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := os.WriteFile(filepath.Join(data, name), files[name], 0o644); err != nil {
			return "", fmt.Errorf("write %s: %w", name, err)
		}
	}
	return filepath.Base(data), nil
}

// swapLink points dir/name at target with one rename, through the
// temporary link dir/tmp.
func swapLink(dir, tmp, name, target string) error {
	tmpPath := filepath.Join(dir, tmp)
	if err := os.Remove(tmpPath); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", tmpPath, err)
	}
	if err := os.Symlink(target, tmpPath); err != nil {
		return fmt.Errorf("link %s: %w", tmpPath, err)
	}
	if err := os.Rename(tmpPath, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("swap %s: %w", name, err)
	}
	return nil
}

// linkFiles links each file name of dir to its file in "..data", replacing
// whatever else has the name (a plain file of an older layout).
func linkFiles(dir string, files map[string][]byte) error {
	for _, name := range slices.Sorted(maps.Keys(files)) {
		target := filepath.Join(dataLink, name)
		if got, err := os.Readlink(filepath.Join(dir, name)); err == nil && got == target {
			continue
		}
		if err := swapLink(dir, newFileLink, name, target); err != nil {
			return err
		}
	}
	return nil
}

// removeStale removes the names of dir that files lacks, and the hidden
// data directories other than keep.
func removeStale(dir string, files map[string][]byte, keep string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	for _, e := range entries {
		name := e.Name()
		hidden := strings.HasPrefix(name, hiddenPrefix)
		var err error
		switch {
		case !hidden && !hasKey(files, name):
			err = os.RemoveAll(filepath.Join(dir, name))
		case hidden && e.IsDir() && name != keep:
			err = os.RemoveAll(filepath.Join(dir, name))
		}
		if err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	return nil
}

func hasKey(files map[string][]byte, name string) bool {
	_, ok := files[name]
	return ok
}

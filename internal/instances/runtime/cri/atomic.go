package cri

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math/rand/v2"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vnode-io/vnode/internal/instances/secretfiles"
)

// Names a secret volume's directory holds besides its files, as the
// kubelet's AtomicWriter lays them out: the data sits in a hidden directory
// "..<time>.<random>", "..data" links to it, and each top-level name (a
// file, or the first directory of a nested path such as "path/to/file")
// links to "..data/<name>". Swapping "..data" (a rename) changes every file
// at once.
const (
	dataLink    = "..data"
	newDataLink = "..data_tmp"
	newFileLink = "..file_tmp"
	// hiddenPrefix starts every name the writer keeps for itself.
	hiddenPrefix = secretfiles.ReservedPrefix
)

// errBadFileName refuses a file name that is not a clean relative path or
// starts with ".." (see checkFileNames).
var errBadFileName = errors.New("bad file name")

// fileAttrs are the modes and group of a secret volume's files.
type fileAttrs struct {
	// modes gives a file's permission bits; nil: 0644 for every file.
	modes func(name string) uint32
	// gid, when set, is the fsGroup that owns the files, the data
	// directory and dir, all group-readable, directories set-group-ID (the
	// kubelet's SetVolumeOwnership for a read-only volume).
	gid *int64
}

// mode is the mode of file name, with the bits its group needs.
func (a fileAttrs) mode(name string) os.FileMode {
	m := os.FileMode(0o644)
	if a.modes != nil {
		m = os.FileMode(a.modes(name) & 0o777)
	}
	if a.gid != nil {
		m |= readOnlyGroupBits
	}
	return m
}

// dirMode is the mode of dir and its data directories.
func (a fileAttrs) dirMode() os.FileMode {
	if a.gid != nil {
		return 0o755 | readOnlyGroupBits | dirGroupBits
	}
	return 0o755
}

// writeAtomic makes dir (which exists) hold exactly files, changing them
// all at once for a reader: the new data goes to a new hidden directory,
// "..data" is swapped to it, names no longer present are removed and new
// ones linked, then older data directories are deleted. Files have the
// modes and group of attrs, given before the swap. Nothing is written when
// dir already holds exactly files with those modes.
//
// Every step works through an os.Root opened on dir, so no name inside
// it resolves outside it: a link planted in dir (by a container that could
// write there, or by anyone else) cannot make the service read, write,
// chmod or remove anything beyond dir.
func writeAtomic(dir string, files map[string][]byte, attrs fileAttrs, now time.Time) error {
	if err := checkFileNames(files); err != nil {
		return err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer root.Close()
	if err := ownDir(root, ".", attrs); err != nil {
		return err
	}
	if same, err := holds(root, files, attrs); err != nil || same {
		return err
	}
	data, err := writeDataDir(root, files, attrs, now)
	if err != nil {
		return err
	}
	if err := swapLink(root, newDataLink, dataLink, data); err != nil {
		return err
	}
	if err := linkFiles(root, files); err != nil {
		return err
	}
	if err := ownLinks(root, files, attrs); err != nil {
		return err
	}
	return removeStale(root, files, data)
}

// ownDir gives the directory name of root its mode and group.
func ownDir(root *os.Root, name string, attrs fileAttrs) error {
	if attrs.gid != nil {
		if err := root.Lchown(name, -1, int(*attrs.gid)); err != nil {
			return fmt.Errorf("chown %s: %w", filepath.Join(root.Name(), name), err)
		}
	}
	return chmodOpen(root, name, attrs.dirMode())
}

// ownLinks gives the links of root the group of attrs.
func ownLinks(root *os.Root, files map[string][]byte, attrs fileAttrs) error {
	if attrs.gid == nil {
		return nil
	}
	for _, name := range append(topNames(files), dataLink) {
		if err := root.Lchown(name, -1, int(*attrs.gid)); err != nil {
			return fmt.Errorf("chown %s: %w", name, err)
		}
	}
	return nil
}

// holds reports whether the root's current data is exactly files, with
// their modes, beneath exactly the directories their names pass through,
// every top-level name linked.
func holds(root *os.Root, files map[string][]byte, attrs fileAttrs) (bool, error) {
	dirs := map[string]bool{}
	for _, d := range parentDirs(files) {
		dirs[d] = true
	}
	found := 0
	same, err := holdsDir(root, files, dirs, attrs, "", &found)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil || !same || found != len(files) {
		return false, err
	}
	for _, name := range topNames(files) {
		if target, err := root.Readlink(name); err != nil || target != filepath.Join(dataLink, name) {
			return false, nil
		}
	}
	return true, nil
}

// holdsDir reports whether the directory rel of the current data holds
// only files of files (with their content and mode) and directories of
// dirs, and counts the files in found.
func holdsDir(root *os.Root, files map[string][]byte, dirs map[string]bool, attrs fileAttrs, rel string, found *int) (bool, error) {
	entries, err := readDir(root, filepath.Join(dataLink, rel))
	if err != nil {
		if rel != "" && errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	for _, e := range entries {
		name := path.Join(rel, e.Name())
		if e.IsDir() {
			if !dirs[name] {
				return false, nil
			}
			if same, err := holdsDir(root, files, dirs, attrs, name, found); err != nil || !same {
				return false, err
			}
			continue
		}
		want, ok := files[name]
		if !ok || !e.Type().IsRegular() {
			return false, nil
		}
		got, mode, err := readRegular(root, filepath.Join(dataLink, name))
		if err != nil || !bytes.Equal(got, want) || mode != attrs.mode(name) {
			return false, nil
		}
		*found++
	}
	return true, nil
}

// openNonblock flags keep an open of a FIFO planted where a file or
// directory should be from blocking the writer.
const openNonblock = os.O_RDONLY | syscall.O_NONBLOCK

// readDir lists the directory name of root.
func readDir(root *os.Root, name string) ([]os.DirEntry, error) {
	d, err := root.OpenFile(name, openNonblock|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", filepath.Join(root.Name(), name), err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(root.Name(), name), err)
	}
	return entries, nil
}

// readRegular reads the regular file name of root and returns its content
// and mode (permission, set-user-ID, set-group-ID and sticky bits), and
// refuses anything else that has the name.
func readRegular(root *os.Root, name string) ([]byte, os.FileMode, error) {
	f, err := root.OpenFile(name, openNonblock, 0)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s is not a regular file", name)
	}
	data, err := io.ReadAll(f)
	return data, st.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky), err
}

// writeDataDir writes files to a new hidden directory of root and returns
// its name. The directory and files are written through descriptors
// opened beneath root, never by a path that could have been swapped.
func writeDataDir(root *os.Root, files map[string][]byte, attrs fileAttrs, now time.Time) (string, error) {
	name, err := mkdirNew(root, now.UTC().Format("..2006_01_02_15_04_05."))
	if err != nil {
		return "", err
	}
	data, err := root.OpenRoot(name)
	if err != nil {
		return "", fmt.Errorf("open data directory %s: %w", name, err)
	}
	defer data.Close()
	if err := ownDir(data, ".", attrs); err != nil {
		return "", err
	}
	for _, dir := range parentDirs(files) {
		if err := data.Mkdir(dir, 0o755); err != nil {
			return "", fmt.Errorf("create %s: %w", dir, err)
		}
		if err := ownDir(data, dir, attrs); err != nil {
			return "", err
		}
	}
	for _, file := range slices.Sorted(maps.Keys(files)) {
		if err := writeNewFile(data, file, files[file], attrs.mode(file), attrs.gid); err != nil {
			return "", err
		}
	}
	return name, nil
}

// mkdirNew creates a directory of root named prefix and a random suffix.
func mkdirNew(root *os.Root, prefix string) (string, error) {
	for range 100 {
		name := fmt.Sprintf("%s%09d", prefix, rand.IntN(1e9))
		err := root.Mkdir(name, 0o755)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("create a data directory in %s: %w", root.Name(), err)
		}
	}
	return "", fmt.Errorf("create a data directory in %s: no free name", root.Name())
}

// chmodOpen sets the mode of the directory name of root through a
// descriptor, against the umask that Mkdir applied.
func chmodOpen(root *os.Root, name string, mode os.FileMode) error {
	d, err := root.Open(name)
	if err != nil {
		return fmt.Errorf("open %s: %w", filepath.Join(root.Name(), name), err)
	}
	defer d.Close()
	if err := d.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", filepath.Join(root.Name(), name), err)
	}
	return nil
}

// writeNewFile creates the file name of root, which must not exist yet,
// with content, mode and, when gid is set, that group.
func writeNewFile(root *os.Root, name string, content []byte, mode os.FileMode, gid *int64) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	_, err = f.Write(content)
	if err == nil && gid != nil {
		err = f.Chown(-1, int(*gid))
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", name, err)
	}
	return nil
}

// swapLink points root's name at target with one rename, through the
// temporary link tmp.
func swapLink(root *os.Root, tmp, name, target string) error {
	if err := root.Remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", tmp, err)
	}
	if err := root.Symlink(target, tmp); err != nil {
		return fmt.Errorf("link %s: %w", tmp, err)
	}
	if err := root.Rename(tmp, name); err != nil {
		return fmt.Errorf("swap %s: %w", name, err)
	}
	return nil
}

// linkFiles links each top-level name of files in root to its file or
// directory in "..data", replacing whatever else has the name (a plain file
// of an older layout).
func linkFiles(root *os.Root, files map[string][]byte) error {
	for _, name := range topNames(files) {
		target := filepath.Join(dataLink, name)
		if got, err := root.Readlink(name); err == nil && got == target {
			continue
		}
		if err := swapLink(root, newFileLink, name, target); err != nil {
			return err
		}
	}
	return nil
}

// removeStale removes the names of root that are not top-level names of
// files, and the hidden data directories other than keep.
func removeStale(root *os.Root, files map[string][]byte, keep string) error {
	entries, err := readDir(root, ".")
	if err != nil {
		return err
	}
	tops := map[string]bool{}
	for _, name := range topNames(files) {
		tops[name] = true
	}
	for _, e := range entries {
		name := e.Name()
		hidden := strings.HasPrefix(name, hiddenPrefix)
		var err error
		switch {
		case !hidden && !tops[name]:
			err = root.RemoveAll(name)
		case hidden && e.IsDir() && name != keep:
			err = root.RemoveAll(name)
		}
		if err != nil {
			return fmt.Errorf("remove %s: %w", name, err)
		}
	}
	return nil
}

package cri

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/mounts"
)

// The bits fsGroup ownership adds, as the kubelet's SetVolumeOwnership:
// group read (and write, for a writable volume) on every file and
// directory, and on directories group search and set-group-ID, so that
// what is created in them belongs to the group too.
const (
	readOnlyGroupBits  os.FileMode = 0o440
	readWriteGroupBits os.FileMode = 0o660
	dirGroupBits                   = os.ModeSetgid | 0o110
)

// emptyDirMode is the mode of an emptyDir volume's root: anyone may write
// it, as on a kubelet.
const emptyDirMode = 0o777

// fallbackMemorySize bounds a memory volume of a group that states no
// memory at all (the service's validation requires some).
const fallbackMemorySize = 64 << 20

// memoryMedium puts an emptyDir volume of medium Memory on a tmpfs of its
// own, of at most its size limit and never more than the group's memory
// (memoryVolumeSize): its files count against the memory of the
// containers that write them, and the tmpfs bounds what the volume holds
// even when they leave. A volume already mounted (a redeployment of a
// stopped group, a restart of the service) keeps its mount and files.
func memoryMedium(dir string, spec runtime.GroupSpec, v runtime.Volume) error {
	mounted, err := mounts.IsMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	return mounts.MountMemory(dir, memoryVolumeSize(spec, v), emptyDirMode)
}

// memoryVolumeSize is the size of a memory volume: its size limit, capped
// at the memory the group's containers may use in all (their limits, or
// their requests where they have none).
func memoryVolumeSize(spec runtime.GroupSpec, v runtime.Volume) int64 {
	var total float64
	for _, c := range spec.Containers {
		mem := c.MemoryLimitInGB
		if mem <= 0 {
			mem = c.MemoryInGB
		}
		total += mem
	}
	limit := int64(total * (1 << 30))
	if limit <= 0 {
		limit = fallbackMemorySize
	}
	if v.SizeLimit > 0 && v.SizeLimit < limit {
		return v.SizeLimit
	}
	return limit
}

// ownVolume gives a writable volume (emptyDir, gitRepo) to the group's
// fsGroup, as the kubelet's SetVolumeOwnership does: every file and
// directory gets the group, group read and write, directories group
// search and set-group-ID. Under OnRootMismatch a volume whose root has
// them already is left alone. Containers of the group may have written the
// volume, so the walk works through an os.Root (nothing beyond dir is
// reached), never follows a link and changes no link's target.
func ownVolume(dir string, gid int64, policy string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer root.Close()
	if policy == runtime.FSGroupChangeOnRootMismatch && rootOwned(root, gid) {
		return nil
	}
	if err := ownTree(root, ".", int(gid), 0); err != nil {
		return fmt.Errorf("give %s to group %d: %w", dir, gid, err)
	}
	return nil
}

// rootOwned reports whether the root of a volume has the fsGroup and the
// bits ownership gives.
func rootOwned(root *os.Root, gid int64) bool {
	fi, err := root.Lstat(".")
	if err != nil {
		return false
	}
	want := readWriteGroupBits | dirGroupBits
	return fileGID(fi) == gid && fi.Mode()&want == want
}

// maxOwnDepth bounds how deep ownTree descends: deeper than any path a
// file system resolves, and a bound on the walk should directories be
// swapped for links to their parents meanwhile.
const maxOwnDepth = 2048

// ownTree gives name of root, and all beneath it, to group gid; depth is
// how deep name lies.
func ownTree(root *os.Root, name string, gid, depth int) error {
	if depth > maxOwnDepth {
		return fmt.Errorf("%s lies more than %d directories deep", name, maxOwnDepth)
	}
	fi, err := root.Lstat(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // removed meanwhile
	}
	if err != nil {
		return err
	}
	if err := root.Lchown(name, -1, gid); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return nil // a link's mode means nothing; its target has its own
	}
	if !fi.IsDir() {
		return chmodKeep(root, name, fi.Mode()|readWriteGroupBits)
	}
	if err := chmodKeep(root, name, fi.Mode()|readWriteGroupBits|dirGroupBits); err != nil {
		return err
	}
	entries, err := readDir(root, name)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := ownTree(root, filepath.Join(name, e.Name()), gid, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// chmodKeep sets the mode of name of root, keeping its set-user-ID and
// sticky bits; a name gone meanwhile is no error. Root.Chmod resolves
// within the root only: a link swapped in after the Lstat changes a file
// of the volume at most.
func chmodKeep(root *os.Root, name string, mode os.FileMode) error {
	keep := mode & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky)
	if err := root.Chmod(name, keep); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// fileGID is the group of a file, -1 when unknown.
func fileGID(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int64(st.Gid)
	}
	return -1
}

// withFSGroup adds the group's fsGroup to a container's supplementary
// groups, as the kubelet does for every container of a pod with one.
func withFSGroup(sc *runtimeapi.LinuxContainerSecurityContext, spec runtime.GroupSpec) {
	if spec.FSGroup != nil {
		sc.SupplementalGroups = append(sc.SupplementalGroups, *spec.FSGroup)
	}
}

package validate

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
	"github.com/vnode-io/vnode/internal/wire"
)

// maxFileMode is the largest file mode a volume's file may have: the
// permission bits, without set-user-ID, set-group-ID or sticky bits, as
// Kubernetes bounds defaultMode and mode.
const maxFileMode = 0o777

// maxGroupID is the largest fsGroup, as Kubernetes bounds group IDs.
const maxGroupID = 1<<31 - 1

// maxSubPath bounds a subPath, as Kubernetes bounds the paths of a pod.
const maxSubPath = 4096

// volumeAdditions checks the volume-files and subpath-mounts additions
// against the group: file modes of files its secret volumes have, media
// and size limits of its emptyDir volumes, its fsGroup, and subPaths of
// mounts its containers have.
func (c *checker) volumeAdditions(p *aci.ContainerGroupPropertiesProperties) *errdefs.Error {
	return first(
		func() *errdefs.Error { return checkFileModes(p.Volumes, c.ext.FileModes) },
		func() *errdefs.Error { return checkEmptyDirs(p.Volumes, c.ext.EmptyDirs) },
		func() *errdefs.Error { return checkFSGroup(c.ext) },
		func() *errdefs.Error { return checkSubPaths(p, c.ext.SubPaths) },
	)
}

// volumeIndex finds the volume named name.
func volumeIndex(vols []*aci.Volume, name string) int {
	return slices.IndexFunc(vols, func(v *aci.Volume) bool { return v != nil && str(v.Name) == name })
}

// checkFileModes checks that each file mode is for a file of a secret
// volume and within the permission bits.
func checkFileModes(vols []*aci.Volume, modes map[string]map[string]int32) *errdefs.Error {
	for _, name := range slices.Sorted(maps.Keys(modes)) {
		i := volumeIndex(vols, name)
		if i < 0 || vols[i].Secret == nil {
			return errdefs.InvalidField(CodeInvalidVolumeFiles, "properties.volumes",
				"File modes are given for volume '%s', which is not a secret volume of the group. "+
					"Give fileModes only beside the files of a secret volume.", clip(name))
		}
		if err := fileModes(vols[i].Secret, modes[name], name, fmt.Sprintf("properties.volumes[%d].fileModes", i)); err != nil {
			return err
		}
	}
	return nil
}

// fileModes checks the modes of one secret volume's files.
func fileModes(files map[string]*string, modes map[string]int32, volume, at string) *errdefs.Error {
	for _, file := range slices.Sorted(maps.Keys(modes)) {
		if _, ok := files[file]; !ok {
			return errdefs.InvalidField(CodeInvalidVolumeFiles, at+"."+clip(file),
				"The secret volume '%s' has a mode for '%s', which is none of its files.", volume, clip(file))
		}
		if m := modes[file]; m < 0 || m > maxFileMode {
			return errdefs.InvalidField(CodeInvalidVolumeFiles, at+"."+clip(file),
				"The mode %d of file '%s' of secret volume '%s' is not allowed. A mode is between 0 and 0777 "+
					"(511): permission bits only.", m, clip(file), volume)
		}
	}
	return nil
}

// checkEmptyDirs checks the medium and size limit of emptyDir volumes.
func checkEmptyDirs(vols []*aci.Volume, dirs map[string]wire.EmptyDir) *errdefs.Error {
	for _, name := range slices.Sorted(maps.Keys(dirs)) {
		i := volumeIndex(vols, name)
		if i < 0 || vols[i].EmptyDir == nil {
			return errdefs.InvalidField(CodeInvalidVolumeFiles, "properties.volumes",
				"A medium or sizeLimit is given for volume '%s', which is not an emptyDir volume of the group.", clip(name))
		}
		at := fmt.Sprintf("properties.volumes[%d].emptyDir", i)
		d := dirs[name]
		if d.Medium != "" && d.Medium != wire.MediumMemory {
			return errdefs.InvalidField(CodeInvalidVolumeFiles, at+".medium",
				"The medium '%s' of emptyDir volume '%s' is not supported. Leave it empty (disk) or use '%s' (a tmpfs).",
				clip(d.Medium), name, wire.MediumMemory)
		}
		if d.SizeLimit < 0 {
			return errdefs.InvalidField(CodeInvalidVolumeFiles, at+".sizeLimit",
				"The sizeLimit of emptyDir volume '%s' is negative. Give a size such as '64Mi', or none.", name)
		}
	}
	return nil
}

// checkFSGroup checks the group's fsGroup and its change policy.
func checkFSGroup(ext wire.GroupExtensions) *errdefs.Error {
	if g := ext.FSGroup; g != nil && (*g < 0 || *g > maxGroupID) {
		return errdefs.InvalidField(CodeInvalidFSGroup, "properties.securityContext.fsGroup",
			"The fsGroup %d is not a group ID. Give a number between 0 and %d.", *g, maxGroupID)
	}
	switch ext.FSGroupChangePolicy {
	case "", wire.FSGroupChangeAlways, wire.FSGroupChangeOnRootMismatch:
		return nil
	}
	return errdefs.InvalidField(CodeInvalidFSGroup, "properties.securityContext.fsGroupChangePolicy",
		"The fsGroupChangePolicy '%s' is not supported. Use '%s' or '%s'.",
		clip(ext.FSGroupChangePolicy), wire.FSGroupChangeAlways, wire.FSGroupChangeOnRootMismatch)
}

// checkSubPaths checks that each subPath belongs to a volume mount of a
// (init) container and is a path within the volume.
func checkSubPaths(p *aci.ContainerGroupPropertiesProperties, subPaths map[string]map[string]string) *errdefs.Error {
	mountsOf := map[string][]*aci.VolumeMount{}
	for _, c := range p.Containers {
		if c != nil && c.Properties != nil {
			mountsOf[str(c.Name)] = c.Properties.VolumeMounts
		}
	}
	for _, c := range p.InitContainers {
		if c != nil && c.Properties != nil {
			mountsOf[str(c.Name)] = c.Properties.VolumeMounts
		}
	}
	for _, name := range slices.Sorted(maps.Keys(subPaths)) {
		for _, at := range slices.Sorted(maps.Keys(subPaths[name])) {
			sub := subPaths[name][at]
			if !slices.ContainsFunc(mountsOf[name], func(m *aci.VolumeMount) bool { return m != nil && str(m.MountPath) == at }) {
				return errdefs.InvalidField(CodeInvalidSubPath, "properties.containers",
					"A subPath is given for the mount at '%s' of container '%s', which has no such volume mount.",
					clip(at), clip(name))
			}
			if problem := subPathProblem(sub); problem != "" {
				return errdefs.InvalidField(CodeInvalidSubPath, "properties.containers",
					"The subPath '%s' of the mount at '%s' of container '%s' %s. A subPath is a relative path "+
						"within the volume, such as 'config.yaml' or 'logs/app'.", clip(sub), clip(at), clip(name), problem)
			}
		}
	}
	return nil
}

// subPathProblem says what is wrong with a subPath ("" for nothing).
func subPathProblem(p string) string {
	switch {
	case len(p) > maxSubPath:
		return "is longer than 4096 characters"
	case strings.ContainsRune(p, 0):
		return "contains a NUL byte"
	case strings.HasPrefix(p, "/"):
		return "is an absolute path"
	case hasElement(p, ".."):
		return "contains '..'"
	case path.Clean(p) != p || p == ".":
		return "is not a clean path"
	}
	return ""
}

// RefreshModes checks the file modes of a refreshVolumes request: each is
// for a file of a volume the request refreshes, within the permission
// bits. Targets are JSON paths in the request.
func RefreshModes(vols []*aci.Volume, modes map[string]map[string]int32) *errdefs.Error {
	for _, name := range slices.Sorted(maps.Keys(modes)) {
		i := volumeIndex(vols, name)
		if i < 0 {
			return errdefs.InvalidField(CodeInvalidVolumeFiles, "volumes",
				"File modes are given for volume '%s', which the request does not refresh.", clip(name))
		}
		if err := fileModes(vols[i].Secret, modes[name], name, fmt.Sprintf("volumes[%d].fileModes", i)); err != nil {
			return err
		}
	}
	return nil
}

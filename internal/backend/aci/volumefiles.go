package aci

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/wire"
)

// defaultFileMode is the mode Kubernetes gives the files of secret,
// configMap, projected and downward-API volumes unless told otherwise.
const defaultFileMode = 0o644

// execBits are the execute permission bits of a file mode.
const execBits = 0o111

// addMode records the mode of a file of an ACI volume.
func (s *volumeSet) addMode(volume, file string, mode int32) {
	if s.modes == nil {
		s.modes = map[string]map[string]int32{}
	}
	if s.modes[volume] == nil {
		s.modes[volume] = map[string]int32{}
	}
	s.modes[volume][file] = mode
}

// setVolumeFiles tells the service (with its volume-files extension, on)
// the modes of the files of the pod's secret, configMap, projected and
// downward-API volumes, the medium and size limit of its emptyDir volumes
// and its fsGroup. Without the extension (Azure, which writes every file
// 0644, keeps emptyDir on disk and has no fsGroup) what would break the
// workload fails the pod — a file that must be executable — and the rest
// runs with a warning: a narrower mode (the file is readable by more
// users than asked), medium Memory and sizeLimit (on disk, unbounded),
// fsGroup (ACI's volumes are not owned by the group).
func (s *groupSpec) setVolumeFiles(pod *corev1.Pod, vols *volumeSet, on bool) error {
	var fsGroup *int64
	var policy string
	if sc := pod.Spec.SecurityContext; sc != nil {
		fsGroup = sc.FSGroup
		if sc.FSGroupChangePolicy != nil {
			policy = string(*sc.FSGroupChangePolicy)
		}
	}
	if on {
		s.ext.FileModes, s.ext.FSGroup, s.ext.FSGroupChangePolicy = vols.modes, fsGroup, policy
		s.ext.EmptyDirs = emptyDirs(pod)
		return nil
	}
	if err := s.warnModes(vols); err != nil {
		return err
	}
	for _, v := range pod.Spec.Volumes {
		if ed := v.EmptyDir; ed != nil && (ed.Medium == corev1.StorageMediumMemory || ed.SizeLimit != nil) {
			s.warnings = append(s.warnings, fmt.Sprintf("emptyDir volume %q: medium and sizeLimit ignored: "+
				"container instances keep emptyDir volumes on disk, without a size limit", v.Name))
		}
	}
	if fsGroup != nil {
		s.warnings = append(s.warnings, fmt.Sprintf("securityContext.fsGroup %d ignored: container instances "+
			"neither give volumes to a group nor add it to the containers' groups", *fsGroup))
	}
	return nil
}

// warnModes fails a pod with a file that must be executable and warns of
// other modes that container instances ignore.
func (s *groupSpec) warnModes(vols *volumeSet) error {
	for _, v := range slices.Sorted(maps.Keys(vols.modes)) {
		for _, f := range slices.Sorted(maps.Keys(vols.modes[v])) {
			m := vols.modes[v][f]
			if m&execBits != 0 {
				return fmt.Errorf("volume %q: file %q has mode %#o, but container instances write every file of a "+
					"volume 0644, so it could not be executed (defaultMode or items[].mode)", podVolumeOf(vols, v), f, m)
			}
			s.warnings = append(s.warnings, fmt.Sprintf("volume %q: mode %#o of file %q ignored: container instances "+
				"write every file of a volume 0644", podVolumeOf(vols, v), m, f))
		}
	}
	return nil
}

// podVolumeOf names the pod volume of an ACI volume.
func podVolumeOf(vols *volumeSet, aciName string) string {
	for name, parts := range vols.parts {
		for _, p := range parts {
			if p.name == aciName {
				return name
			}
		}
	}
	return aciName
}

// emptyDirs are the media and size limits of the pod's emptyDir volumes
// that have either.
func emptyDirs(pod *corev1.Pod) map[string]wire.EmptyDir {
	var out map[string]wire.EmptyDir
	for _, v := range pod.Spec.Volumes {
		ed := v.EmptyDir
		if ed == nil || ed.Medium != corev1.StorageMediumMemory && ed.SizeLimit == nil {
			continue
		}
		d := wire.EmptyDir{}
		if ed.Medium == corev1.StorageMediumMemory {
			d.Medium = wire.MediumMemory
		}
		if ed.SizeLimit != nil {
			d.SizeLimit = ed.SizeLimit.Value()
		}
		if out == nil {
			out = map[string]wire.EmptyDir{}
		}
		out[aciVolumeName(v.Name, "")] = d
	}
	return out
}

// addSubPaths records the subPaths of a (init) container's mounts.
func (s *groupSpec) addSubPaths(container string, subPaths map[string]string) {
	if len(subPaths) == 0 {
		return
	}
	if s.ext.SubPaths == nil {
		s.ext.SubPaths = map[string]map[string]string{}
	}
	s.ext.SubPaths[container] = subPaths
}

// mountSubPath is the subPath of a volume mount, cleaned ("" for none):
// subPath, or subPathExpr with $(VAR) expanded from the container's
// environment, as the kubelet's makeMounts does. A reference to a variable
// that is missing or empty, an absolute path and a '..' element are the
// pod's configuration errors (CreateContainerConfigError, tried again when
// the pod changes, as a kubelet tries again).
func mountSubPath(c corev1.Container, m corev1.VolumeMount, env []backend.EnvVar) (string, error) {
	sub := m.SubPath
	if m.SubPathExpr != "" {
		vars := make(map[string]string, len(env))
		for _, e := range env {
			vars[e.Name] = e.Value
		}
		var missing []string
		sub = expandFunc(m.SubPathExpr, func(name string) (string, bool) {
			v := vars[name]
			if v == "" && !slices.Contains(missing, name) {
				missing = append(missing, name)
			}
			return v, true
		})
		if len(missing) > 0 {
			slices.Sort(missing)
			return "", &backend.ConfigError{Message: fmt.Sprintf("subPathExpr %q of volumeMount %q of container %q: "+
				"missing value for %s", m.SubPathExpr, m.Name, c.Name, strings.Join(missing, ", "))}
		}
	}
	if sub == "" {
		return "", nil
	}
	if path.IsAbs(sub) {
		return "", &backend.ConfigError{Message: fmt.Sprintf("volumeMount %q of container %q: error SubPath `%s` must "+
			"not be an absolute path", m.Name, c.Name, sub)}
	}
	if slices.Contains(strings.Split(sub, "/"), "..") {
		return "", &backend.ConfigError{Message: fmt.Sprintf("volumeMount %q of container %q: unable to provision "+
			"SubPath `%s`: must not contain '..'", m.Name, c.Name, sub)}
	}
	if sub = path.Clean(sub); sub == "." {
		return "", nil
	}
	return sub, nil
}

// subPathMount is one ACI mount of a (part of a) pod volume mount.
type subPathMount struct {
	part    volumePart
	at      string
	subPath string // within the part; "" for its root
}

// subPathMounts maps a mount of sub (a clean relative path, "" for the
// whole volume) of a pod volume at mountPath onto the volume's parts (one
// per directory of its files, see volumeSet): the parts at or under sub,
// each at its place below mountPath, or else the deepest part holding sub,
// with sub relative to it as the subPath.
func subPathMounts(parts []volumePart, mountPath, sub string) []subPathMount {
	var out []subPathMount
	for _, p := range parts {
		switch {
		case sub == "" || p.dir == sub:
			out = append(out, subPathMount{part: p, at: joinMount(mountPath, strings.TrimPrefix(p.dir, sub))})
		case strings.HasPrefix(p.dir, sub+"/"):
			out = append(out, subPathMount{part: p, at: joinMount(mountPath, strings.TrimPrefix(p.dir, sub+"/"))})
		}
	}
	if len(out) > 0 {
		return out
	}
	best := -1
	for i, p := range parts {
		if (p.dir == "" || strings.HasPrefix(sub, p.dir+"/")) && (best < 0 || len(p.dir) > len(parts[best].dir)) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	p := parts[best]
	rel := sub
	if p.dir != "" {
		rel = strings.TrimPrefix(sub, p.dir+"/")
	}
	return []subPathMount{{part: p, at: mountPath, subPath: rel}}
}

// joinMount is mountPath with the relative directory rel below it.
func joinMount(mountPath, rel string) string {
	rel = strings.TrimPrefix(rel, "/")
	if rel == "" {
		return mountPath
	}
	return path.Join(mountPath, rel)
}

package aci

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"path"
	"slices"

	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	corev1 "k8s.io/api/core/v1"

	"github.com/vnode-io/vnode/internal/backend"
)

// volumePart is one ACI volume made from (part of) a pod volume: ACI's
// secret volumes hold plain file names only, so each directory of a pod
// volume's files becomes a volume of its own, mounted at its subdirectory
// (unless the service takes nested file names: then one volume holds them
// all).
type volumePart struct {
	name string // the ACI volume's name
	dir  string // subdirectory under the pod volume's mount path; "" for the root
}

// volumeSet is the ACI volumes of a pod and, per pod volume, its parts.
type volumeSet struct {
	volumes []*aci.Volume
	parts   map[string][]volumePart
	// modes holds, by ACI volume name, the modes of its files that are not
	// Kubernetes' default 0644.
	modes map[string]map[string]int32
}

// convertVolumes turns the pod's volumes into ACI volumes: emptyDir into
// emptyDir; Secret, ConfigMap, projected and downward-API volumes into
// secret volumes holding the files the agent resolved; gitRepo into
// gitRepo; azureFile into azureFile with the storage account read from the
// data of its Secret (azureFileAccount). Other types cannot run on ACI: the
// error names the volume and its type. nested says the service takes
// nested file names in a secret volume (see addFiles).
func convertVolumes(w *backend.Workload, nested bool) (volumeSet, error) {
	set := volumeSet{parts: map[string][]volumePart{}}
	for _, v := range w.Pod.Spec.Volumes {
		switch {
		case v.EmptyDir != nil:
			name := aciVolumeName(v.Name, "")
			set.volumes = append(set.volumes, &aci.Volume{Name: ptr(name), EmptyDir: map[string]any{}})
			set.parts[v.Name] = []volumePart{{name: name}}
		case backend.FileVolume(v):
			set.addFiles(v.Name, w.Volumes[v.Name], nested)
		case v.GitRepo != nil:
			name := aciVolumeName(v.Name, "")
			set.volumes = append(set.volumes, &aci.Volume{Name: ptr(name), GitRepo: &aci.GitRepoVolume{
				Repository: ptr(v.GitRepo.Repository), Directory: ptr(v.GitRepo.Directory), Revision: ptr(v.GitRepo.Revision)}})
			set.parts[v.Name] = []volumePart{{name: name}}
		case v.AzureFile != nil:
			account, key, err := azureFileAccount(w.Pod.Namespace, v, w.VolumeSecrets[v.Name])
			if err != nil {
				return volumeSet{}, err
			}
			name := aciVolumeName(v.Name, "")
			set.volumes = append(set.volumes, &aci.Volume{Name: ptr(name), AzureFile: &aci.AzureFileVolume{
				ShareName: ptr(v.AzureFile.ShareName), StorageAccountName: ptr(account),
				StorageAccountKey: ptr(key), ReadOnly: ptr(v.AzureFile.ReadOnly)}})
			set.parts[v.Name] = []volumePart{{name: name}}
		default:
			return volumeSet{}, fmt.Errorf("volume %q has type %s, which container instances cannot mount "+
				"(supported: emptyDir, secret, configMap, projected, downwardAPI, gitRepo, azureFile)", v.Name, volumeType(v))
		}
	}
	return set, nil
}

// The keys of an azureFile volume's Secret, as the in-tree azureFile plugin
// reads them.
const (
	keyAzureStorageAccountName = "azurestorageaccountname"
	keyAzureStorageAccountKey  = "azurestorageaccountkey"
)

// azureFileAccount reads the storage account of azureFile volume v, of a
// pod in namespace ns, from the data of its Secret. A Secret that lacks
// either key is a *backend.ConfigError, the pod's user's to fix. The key is
// confidential: it goes into the group's body, which ACI keeps secret, and
// nowhere else.
func azureFileAccount(ns string, v corev1.Volume, secret map[string][]byte) (account, key string, err error) {
	account, key = string(secret[keyAzureStorageAccountName]), string(secret[keyAzureStorageAccountKey])
	if account == "" || key == "" {
		return "", "", &backend.ConfigError{Message: fmt.Sprintf("azureFile volume %q: secret %s/%s lacks %s or %s",
			v.Name, ns, v.AzureFile.SecretName, keyAzureStorageAccountName, keyAzureStorageAccountKey)}
	}
	return account, key, nil
}

// addFiles adds the secret volumes holding a pod volume's files: with
// nested, one volume whose file names are the files' paths (the service
// writes them as a tree, as the kubelet does); else, for ACI, one volume per
// directory, parents before children.
func (s *volumeSet) addFiles(podVolume string, files []backend.File, nested bool) {
	byDir := map[string]map[string]*string{"": {}}
	for _, f := range files {
		p := path.Clean(f.Path)
		dir, file := path.Split(p)
		dir = path.Clean(dir)
		if dir == "." || nested {
			dir, file = "", p
		}
		if byDir[dir] == nil {
			byDir[dir] = map[string]*string{}
		}
		byDir[dir][file] = ptr(base64.StdEncoding.EncodeToString(f.Data))
		if f.Mode != defaultFileMode {
			s.addMode(aciVolumeName(podVolume, dir), file, f.Mode)
		}
	}
	dirs := make([]string, 0, len(byDir))
	for d := range byDir {
		dirs = append(dirs, d)
	}
	slices.Sort(dirs)
	for _, d := range dirs {
		name := aciVolumeName(podVolume, d)
		s.volumes = append(s.volumes, &aci.Volume{Name: ptr(name), Secret: byDir[d]})
		s.parts[podVolume] = append(s.parts[podVolume], volumePart{name: name, dir: d})
	}
}

// mounts returns a container's volume mounts and, by mount path, the
// subPaths the service mounts (see subPathMounts); env is the container's
// resolved environment, which subPathExpr expands. ACI mounts whole
// volumes: without the service's subpath-mounts extension (subPath false),
// a subPath fails the pod.
func (s *volumeSet) mounts(c corev1.Container, env []backend.EnvVar, subPath bool) ([]*aci.VolumeMount, map[string]string, error) {
	var out []*aci.VolumeMount
	var subPaths map[string]string
	for _, m := range c.VolumeMounts {
		parts, ok := s.parts[m.Name]
		if !ok {
			return nil, nil, fmt.Errorf("container %q mounts volume %q, which the pod does not define", c.Name, m.Name)
		}
		if !subPath && (m.SubPath != "" || m.SubPathExpr != "") {
			return nil, nil, fmt.Errorf("container %q mounts volume %q with a subPath, which container instances cannot do",
				c.Name, m.Name)
		}
		sub, err := mountSubPath(c, m, env)
		if err != nil {
			return nil, nil, err
		}
		for _, sm := range subPathMounts(parts, m.MountPath, sub) {
			out = append(out, &aci.VolumeMount{Name: ptr(sm.part.name), MountPath: ptr(sm.at), ReadOnly: ptr(m.ReadOnly)})
			if sm.subPath != "" {
				if subPaths == nil {
					subPaths = map[string]string{}
				}
				subPaths[sm.at] = sm.subPath
			}
		}
	}
	return out, subPaths, nil
}

// aciVolumeName names the ACI volume of a pod volume's directory dir
// within ACI's rules (5–63 characters of [a-z0-9-], no '-' at either end):
// the pod volume's name when it qualifies, else a sanitised prefix and a
// hash of the name and directory.
func aciVolumeName(podVolume, dir string) string {
	if dir == "" && len(podVolume) >= 5 && validName(podVolume) {
		return podVolume
	}
	sum := sha256.Sum256([]byte(podVolume + "\x00" + dir))
	suffix := hex.EncodeToString(sum[:])[:hashLen]
	prefix := sanitize(podVolume)
	if max := maxNameLen - hashLen - 1; len(prefix) > max {
		prefix = prefix[:max]
	}
	if prefix = trimDashes(prefix); prefix == "" {
		prefix = "vol"
	}
	return prefix + "-" + suffix
}

func trimDashes(s string) string {
	for len(s) > 0 && s[len(s)-1] == '-' {
		s = s[:len(s)-1]
	}
	return s
}

// volumeType names the source of a volume for error messages.
func volumeType(v corev1.Volume) string {
	switch {
	case v.HostPath != nil:
		return "hostPath"
	case v.PersistentVolumeClaim != nil:
		return "persistentVolumeClaim"
	case v.Ephemeral != nil:
		return "ephemeral"
	case v.CSI != nil:
		return "csi"
	case v.NFS != nil:
		return "nfs"
	case v.Image != nil:
		return "image"
	case v.ISCSI != nil:
		return "iscsi"
	case v.AzureDisk != nil:
		return "azureDisk"
	default:
		return "unknown"
	}
}

package cri

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/vnode-io/vnode/internal/instances/gitrepo"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/mounts"
)

// volumeRoot is where a group's volumes live.
func (r *Runtime) volumeRoot(id string) string { return filepath.Join(r.groupDir(id), "volumes") }

// sharePath is a file share's directory: shared by every group that mounts
// the same account and share, and kept when groups are deleted.
func (r *Runtime) sharePath(v *runtime.AzureFileVolume) string {
	return filepath.Join(r.o.Dir, "shares", safeName(v.StorageAccountName), safeName(v.ShareName))
}

func safeName(s string) string {
	s = strings.ReplaceAll(s, "/", "_")
	if s == "" || s == "." || s == ".." {
		return "_" + s
	}
	return s
}

// volumePaths maps each volume to its host directory.
func (r *Runtime) volumePaths(spec runtime.GroupSpec) (map[string]string, error) {
	out := map[string]string{}
	for _, v := range spec.Volumes {
		if v.AzureFile != nil {
			out[v.Name] = r.sharePath(v.AzureFile)
			continue
		}
		out[v.Name] = filepath.Join(r.volumeRoot(spec.ID), safeName(v.Name))
	}
	return out, nil
}

// prepareVolumes creates the group's volumes: empty directories (on a
// tmpfs for medium Memory), secret files (with their modes, see
// writeSecret), git clones and file shares, owned by the group's fsGroup. Secret
// files are written with r.files held and the group's current spec, so that
// an UpdateVolumes meanwhile is not undone.
func (r *Runtime) prepareVolumes(ctx context.Context, g *group) (map[string]string, error) {
	spec := r.specOf(g)
	paths, err := r.volumePaths(spec)
	if err != nil {
		return nil, err
	}
	for _, v := range spec.Volumes {
		dir := paths[v.Name]
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return nil, fmt.Errorf("create volume %s: %w", v.Name, err)
		}
		if v.Secret != nil {
			if err := r.secretMedium(dir); err != nil {
				return nil, fmt.Errorf("secret volume %s: %w", v.Name, err)
			}
			continue
		}
		if err := r.prepareDir(ctx, spec, dir, v); err != nil {
			return nil, err
		}
	}
	r.files.Lock()
	defer r.files.Unlock()
	spec = r.specOf(g)
	if err := r.writeSecrets(spec, nil); err != nil {
		return nil, err
	}
	return paths, nil
}

// prepareDir prepares a volume that containers write: an emptyDir (on a
// tmpfs of its own for medium Memory), a gitRepo clone or a file share,
// writable by containers running as any user, as on a kubelet. An emptyDir
// or gitRepo goes to the group's fsGroup.
func (r *Runtime) prepareDir(ctx context.Context, spec runtime.GroupSpec, dir string, v runtime.Volume) error {
	if v.EmptyDir && v.Medium == runtime.MediumMemory {
		err := memoryMedium(dir, spec, v)
		if errors.Is(err, unix.EPERM) {
			r.o.Logger.Warn("memory volume on disk: no privilege to mount a tmpfs", "dir", dir)
			err = nil
		}
		if err != nil {
			return fmt.Errorf("emptyDir volume %s: %w", v.Name, err)
		}
	}
	owned := spec.FSGroup != nil && (v.EmptyDir || v.GitRepo != nil)
	mode := os.FileMode(emptyDirMode)
	if owned {
		mode |= dirGroupBits
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("volume %s: %w", v.Name, err)
	}
	if v.GitRepo != nil {
		if err := r.cloneOnce(ctx, spec.ID, dir, v); err != nil {
			return err
		}
	}
	if owned {
		if err := ownVolume(dir, *spec.FSGroup, spec.FSGroupChangePolicy); err != nil {
			return fmt.Errorf("volume %s: %w", v.Name, err)
		}
	}
	return nil
}

// secretVolumeSize bounds a secret volume's tmpfs: four times what ARM's
// 4 MB request body can carry, room for the old and the new files while
// an update swaps them.
const secretVolumeSize = 16 << 20

// secretMedium puts a secret volume's directory on a tmpfs of its own, as
// ACI's and the kubelet's secret volumes are: their files never reach
// the disk. Without the privilege to mount (a test not run as root) the
// files stay on the runtime directory's file system, and the log says so.
func (r *Runtime) secretMedium(dir string) error {
	mounted, err := mounts.IsMountPoint(dir)
	if err != nil || mounted {
		return err
	}
	// Not noexec: a file of mode 0755 runs, as from the kubelet's secret
	// volumes.
	err = mounts.MountMemory(dir, secretVolumeSize, 0o755)
	if errors.Is(err, unix.EPERM) {
		r.o.Logger.Warn("secret volume files go to disk: no privilege to mount a tmpfs", "dir", dir)
		return nil
	}
	return err
}

// removeGroupFiles unmounts what is mounted under a group's directory (the
// tmpfs of its secret and memory volumes, its subPath bind mounts) and
// removes the directory: nothing is removed through a mount, so a subPath
// of a file share never loses the share's files. Callers hold r.files.
func (r *Runtime) removeGroupFiles(spec runtime.GroupSpec) error {
	dir := r.groupDir(spec.ID)
	if err := mounts.UnmountUnder(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// writeSecrets writes the files of the group's secret volumes, of those
// named in only when it is not nil. Callers hold r.files.
func (r *Runtime) writeSecrets(spec runtime.GroupSpec, only map[string]bool) error {
	paths, err := r.volumePaths(spec)
	if err != nil {
		return err
	}
	for _, v := range spec.Volumes {
		if v.Secret == nil || (only != nil && !only[v.Name]) {
			continue
		}
		if err := r.writeSecret(paths[v.Name], v, spec.FSGroup); err != nil {
			return err
		}
	}
	return nil
}

// writeSecret makes a secret volume's directory hold exactly its files,
// with their modes and owned by fsGroup when it is set, all changed at
// once (writeAtomic): a container that mounts the directory sees the new
// files without a restart.
func (r *Runtime) writeSecret(dir string, v runtime.Volume, fsGroup *int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create volume %s: %w", v.Name, err)
	}
	err := writeAtomic(dir, v.Secret, fileAttrs{modes: v.FileMode, gid: fsGroup}, r.o.Clock.Now())
	if errors.Is(err, errBadFileName) {
		return badSecret(v, err)
	}
	if err != nil {
		return fmt.Errorf("secret volume %s: %w", v.Name, err)
	}
	return nil
}

// checkSecrets refuses secret volumes with file names writeAtomic refuses.
func checkSecrets(vols []runtime.Volume) error {
	for _, v := range vols {
		if err := checkFileNames(v.Secret); err != nil {
			return badSecret(v, err)
		}
	}
	return nil
}

// checkGitRepos refuses gitRepo volumes whose repository, revision or
// directory git could read as an option or a host path. The service's
// validation refuses them first; this holds for specs from anywhere.
func checkGitRepos(vols []runtime.Volume) error {
	for _, v := range vols {
		if v.GitRepo == nil {
			continue
		}
		if err := gitSource(v.GitRepo).Check(); err != nil {
			return &runtime.Error{Reason: runtime.ReasonInvalidSpec, Message: fmt.Sprintf("gitRepo volume %s: %v", v.Name, err)}
		}
	}
	return nil
}

func badSecret(v runtime.Volume, err error) error {
	return &runtime.Error{Reason: runtime.ReasonInvalidSpec, Message: fmt.Sprintf("secret volume %s: %v", v.Name, err)}
}

// UpdateVolumes replaces the files of the group's secret volumes named in
// volumes and saves the new spec for later runs, restarts and a restart of
// the runtime. The files of a group that is not stopped change in place, in
// the volume directories the containers bind-mount.
func (r *Runtime) UpdateVolumes(ctx context.Context, id string, volumes []runtime.Volume) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("update the volumes of %s: %w", id, err)
	}
	if err := checkSecrets(volumes); err != nil {
		return err
	}
	r.files.Lock()
	defer r.files.Unlock()
	g, spec, stopped, err := r.groupSpec(id)
	if err != nil {
		return err
	}
	if spec.Volumes, err = runtime.ReplaceVolumes(spec.Volumes, volumes); err != nil {
		return err
	}
	if err := r.saveSpec(spec); err != nil {
		return err
	}
	r.mu.Lock()
	g.spec.Volumes = spec.Volumes
	r.mu.Unlock()
	if stopped {
		return nil // the next Run writes them
	}
	named := map[string]bool{}
	for _, v := range volumes {
		named[v.Name] = true
	}
	return r.writeSecrets(spec, named)
}

// groupSpec returns a group, its spec and whether it is stopped.
func (r *Runtime) groupSpec(id string) (*group, runtime.GroupSpec, bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g, err := r.lookup(id)
	if err != nil {
		return nil, runtime.GroupSpec{}, false, err
	}
	return g, g.spec, g.stopped, nil
}

// cloneOnce fills a gitRepo volume of group id, once: a marker beside the
// volumes (where no container reaches) records the clone, so a later run
// of the group never runs git on a directory its containers have changed.
// git's output goes to the service's log, never into the error.
func (r *Runtime) cloneOnce(ctx context.Context, id, dir string, v runtime.Volume) error {
	marker := filepath.Join(r.groupDir(id), "cloned", safeName(v.Name))
	if _, err := os.Stat(marker); err == nil {
		return nil
	}
	src := gitSource(v.GitRepo)
	if err := gitrepo.Clone(ctx, dir, src); err != nil {
		var gerr *gitrepo.Error
		if errors.As(err, &gerr) {
			r.o.Logger.Warn("gitRepo volume failed", "group", id, "volume", v.Name, "error", gerr.Message, "git", gerr.Output)
			return &runtime.Error{Reason: "FailedMount", Message: fmt.Sprintf("gitRepo volume %s: %s", v.Name, gerr.Message)}
		}
		return fmt.Errorf("gitRepo volume %s: %w", v.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(marker), 0o700); err != nil {
		return fmt.Errorf("gitRepo volume %s: %w", v.Name, err)
	}
	if err := os.WriteFile(marker, nil, 0o600); err != nil {
		return fmt.Errorf("gitRepo volume %s: %w", v.Name, err)
	}
	return nil
}

func gitSource(g *runtime.GitRepoVolume) gitrepo.Source {
	return gitrepo.Source{Repository: g.Repository, Revision: g.Revision, Directory: g.Directory}
}

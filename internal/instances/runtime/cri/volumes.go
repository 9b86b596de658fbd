package cri

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/vnode-io/vnode/internal/instances/runtime"
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

// prepareVolumes creates the group's volumes: empty directories, secret
// files (mode 0644), git clones and file shares.
func (r *Runtime) prepareVolumes(ctx context.Context, spec runtime.GroupSpec) (map[string]string, error) {
	paths, err := r.volumePaths(spec)
	if err != nil {
		return nil, err
	}
	for _, v := range spec.Volumes {
		dir := paths[v.Name]
		if err := os.MkdirAll(dir, 0o777); err != nil {
			return nil, fmt.Errorf("create volume %s: %w", v.Name, err)
		}
		// Containers running as any user may write emptyDir volumes and shares.
		if err := os.Chmod(dir, 0o777); err != nil {
			return nil, fmt.Errorf("volume %s: %w", v.Name, err)
		}
		switch {
		case v.Secret != nil:
			if err := writeSecret(dir, v); err != nil {
				return nil, err
			}
		case v.GitRepo != nil:
			if err := clone(ctx, dir, v); err != nil {
				return nil, err
			}
		}
	}
	return paths, nil
}

func writeSecret(dir string, v runtime.Volume) error {
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("secret volume %s: %w", v.Name, err)
	}
	for name, data := range v.Secret {
		if name != filepath.Base(name) || name == "." || name == ".." {
			return &runtime.Error{Reason: runtime.ReasonInvalidSpec, Message: fmt.Sprintf("secret volume %s: bad file name %q", v.Name, name)}
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			return fmt.Errorf("secret volume %s: %w", v.Name, err)
		}
	}
	return nil
}

// clone fills a gitRepo volume with `git clone` (and checkout of the revision).
func clone(ctx context.Context, dir string, v runtime.Volume) error {
	g := v.GitRepo
	target := dir
	if g.Directory != "" && g.Directory != "." {
		target = filepath.Join(dir, filepath.Clean("/"+g.Directory))
	}
	if entries, _ := os.ReadDir(target); len(entries) > 0 {
		return nil // cloned by an earlier attempt
	}
	run := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return &runtime.Error{Reason: "FailedMount",
				Message: fmt.Sprintf("gitRepo volume %s: git %s: %v: %s", v.Name, args[0], err, strings.TrimSpace(string(out)))}
		}
		return nil
	}
	if err := run("clone", "--quiet", "--", g.Repository, target); err != nil {
		return err
	}
	if g.Revision != "" {
		return run("-C", target, "checkout", "--quiet", g.Revision)
	}
	return nil
}

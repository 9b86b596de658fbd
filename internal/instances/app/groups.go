package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/containerd"
	"github.com/vnode-io/vnode/internal/instances/network"
	"github.com/vnode-io/vnode/internal/instances/runtime/cri"
	"github.com/vnode-io/vnode/internal/mounts"
)

// containerdConfig is the private containerd of a service configured by cfg.
func containerdConfig(cfg config.Config) containerd.Config {
	return containerd.Config{Dir: filepath.Join(cfg.DataDir, "containerd"), Binary: cfg.Containerd.Binary,
		SandboxImage: cfg.Containerd.SandboxImage, CNIConfDir: filepath.Join(cfg.DataDir, "cni")}
}

// RemoveGroups ends every container group that the private containerd of a
// stopped service still runs: the service leaves its groups running when it
// stops, so that its next start re-attaches to them; this is for tearing a
// service down for good (`vnode down`, uninstall). It starts that
// containerd, stops and removes its pod sandboxes (their containers, IPs,
// network namespaces and mounts), stops it again, unmounts the groups'
// secret volumes and deletes the groups' bridge. The service's records are kept: the next start reports the
// groups it had as lost. It does nothing for the fake runtime or a service
// that never ran containerd, and fails while the service's containerd runs.
func RemoveGroups(ctx context.Context, cfg config.Config) error {
	if cfg.Runtime != "containerd" {
		return nil
	}
	if cfg.Containerd.Endpoint != "" {
		return removeLabelledPods(ctx, cfg.Containerd.Endpoint)
	}
	cc := containerdConfig(cfg)
	var errs []error
	if containerd.HasPods(cc) {
		d, err := containerd.Start(ctx, cc)
		if err != nil {
			return fmt.Errorf("remove container groups: %w", err)
		}
		errs = append(errs, d.Cleanup(ctx))
	}
	// The groups' secret volumes are tmpfs mounts under the runtime's
	// directory; their files go with the groups.
	errs = append(errs, mounts.UnmountUnder(cc.Dir), mounts.UnmountUnder(filepath.Join(cfg.DataDir, "runtime")),
		deleteLink(orDefault(cfg.Containerd.Bridge, network.DefaultBridge)))
	// containerd 1.6 keeps shim sockets under /run/containerd/s whatever its
	// configuration; empty directories there are safe to remove.
	for _, dir := range []string{"/run/containerd/s", "/run/containerd"} {
		_ = os.Remove(dir) // fails harmlessly unless empty
	}
	return errors.Join(errs...)
}

// deleteLink deletes a network interface if it exists (CNI's bridge plugin
// leaves the bridge behind when its last sandbox goes).
func deleteLink(name string) error {
	if exec.Command("ip", "link", "show", "dev", name).Run() != nil {
		return nil
	}
	if out, err := exec.Command("ip", "link", "delete", "dev", name).CombinedOutput(); err != nil {
		return fmt.Errorf("delete bridge %s: %w: %s", name, err, out)
	}
	return nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// removeLabelledPods removes the pod sandboxes of container groups from a
// containerd that others use too, leaving everything else alone.
func removeLabelledPods(ctx context.Context, endpoint string) error {
	d, err := containerd.Connect(ctx, endpoint)
	if err != nil {
		return fmt.Errorf("remove container groups: %w", err)
	}
	defer func() { _ = d.Stop(ctx) }()
	rc := d.RuntimeClient()
	resp, err := rc.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return fmt.Errorf("remove container groups: list pod sandboxes: %w", err)
	}
	var errs []error
	for _, sb := range resp.GetItems() {
		if sb.GetLabels()[cri.LabelGroupID] == "" {
			continue
		}
		if _, err := rc.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stop pod sandbox %s: %w", sb.Id, err))
			continue
		}
		if _, err := rc.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: sb.Id}); err != nil {
			errs = append(errs, fmt.Errorf("remove pod sandbox %s: %w", sb.Id, err))
		}
	}
	return errors.Join(errs...)
}

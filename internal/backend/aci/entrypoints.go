package aci

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/backend/aci/imageconfig"
)

// entrypoints reads, for a service that cannot take args apart from the
// command (Azure), the image entrypoints of w's (init) containers that set
// args without a command, by container name. A failure to read one may
// pass (the registry answers again, the image is pushed, the pull secret
// fixed) and is retryable; a reference that is none is the pod's for good.
func (b *Backend) entrypoints(ctx context.Context, w *backend.Workload) (map[string][]string, error) {
	var out map[string][]string
	for _, c := range slices.Concat(w.Pod.Spec.InitContainers, w.Pod.Spec.Containers) {
		if len(c.Command) > 0 || len(c.Args) == 0 {
			continue
		}
		cfg, err := b.cfg.ImageConfigs.Resolve(ctx, c.Image, w.RegistryCredentials)
		switch {
		case errors.Is(err, imageconfig.ErrBadReference):
			return nil, fmt.Errorf("%w: container %q: %w", backend.ErrUnsatisfiable, c.Name, err)
		case err != nil:
			return nil, fmt.Errorf("%w: container %q sets args without a command, which follow its image's entrypoint: %w",
				backend.ErrRetryable, c.Name, err)
		}
		entrypoint := cfg.Entrypoint
		if len(entrypoint) == 1 && entrypoint[0] == "" {
			entrypoint = nil // ENTRYPOINT [""] clears the base image's, as runtimes read it
		}
		if out == nil {
			out = map[string][]string{}
		}
		out[c.Name] = entrypoint
	}
	return out, nil
}

// imageUsers reads, for a service without the security-context extension
// (Azure), the users of the images of w's (init) containers that must not
// run as root and set no user, by container name: the kubelet checks the
// image's user before it starts such a container. Errors are those of
// entrypoints.
func (b *Backend) imageUsers(ctx context.Context, w *backend.Workload) (map[string]string, error) {
	var out map[string]string
	for _, c := range slices.Concat(w.Pod.Spec.InitContainers, w.Pod.Spec.Containers) {
		sc := effectiveSecurity(w.Pod, &c)
		if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser != nil {
			continue
		}
		cfg, err := b.cfg.ImageConfigs.Resolve(ctx, c.Image, w.RegistryCredentials)
		switch {
		case errors.Is(err, imageconfig.ErrBadReference):
			return nil, fmt.Errorf("%w: container %q: %w", backend.ErrUnsatisfiable, c.Name, err)
		case err != nil:
			return nil, fmt.Errorf("%w: container %q has runAsNonRoot, and the user of its image is read first: %w",
				backend.ErrRetryable, c.Name, err)
		}
		if out == nil {
			out = map[string]string{}
		}
		out[c.Name] = cfg.User
	}
	return out, nil
}

package cri

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/wire"
)

// configError is a container configuration that its user must fix before
// the container can start, the kubelet's CreateContainerConfigError: the
// container waits with that reason and the message, and is tried again
// with back-off.
type configError struct {
	msg string
}

func (e *configError) Error() string { return e.msg }

// securityContext is a container's CRI security context. Every container
// runs under a seccomp profile: the runtime's default (RuntimeDefault, as
// the kubelet's SeccompDefault) unless its spec brings one of its own,
// which is written to the group's directory for containerd to load, or
// asks for none (Unconfined). The group's supplemental groups apply to
// every container. A container that must not run as root and would is a
// *configError.
func (r *Runtime) securityContext(ctx context.Context, spec runtime.GroupSpec, c runtime.ContainerSpec) (*runtimeapi.LinuxContainerSecurityContext, error) {
	out := &runtimeapi.LinuxContainerSecurityContext{
		Seccomp:            &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault},
		SupplementalGroups: slices.Clone(spec.SupplementalGroups),
	}
	sc := c.SecurityContext
	if sc == nil {
		return out, nil
	}
	if err := r.setUser(ctx, out, spec, c); err != nil {
		return nil, err
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		out.NoNewPrivs = true
	}
	out.ReadonlyRootfs = sc.ReadOnlyRootFilesystem
	if len(sc.CapabilitiesAdd) > 0 || len(sc.CapabilitiesDrop) > 0 {
		out.Capabilities = &runtimeapi.Capability{AddCapabilities: sc.CapabilitiesAdd, DropCapabilities: sc.CapabilitiesDrop}
	}
	switch {
	case sc.SeccompProfile != "":
		path, err := r.writeSeccompProfile(spec.ID, c.Name, sc.SeccompProfile)
		if err != nil {
			return nil, err
		}
		out.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: path}
	case sc.SeccompProfileType == wire.SeccompUnconfined:
		out.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Unconfined}
	}
	return out, nil
}

// setUser sets the user and group a container runs as. As the kubelet
// does, the image's user is read when the container sets a group but no
// user (containerd needs both, or a user name) or must not run as root;
// runAsNonRoot then refuses uid 0 and a user name, which cannot be
// verified before the container starts.
func (r *Runtime) setUser(ctx context.Context, out *runtimeapi.LinuxContainerSecurityContext, spec runtime.GroupSpec,
	c runtime.ContainerSpec) error {
	sc := c.SecurityContext
	if sc.RunAsGroup != nil {
		out.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
	}
	pod := podRef(spec)
	if sc.RunAsUser != nil {
		out.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
		if sc.RunAsNonRoot && *sc.RunAsUser == 0 {
			return &configError{fmt.Sprintf("container's runAsUser breaks non-root policy (pod: %q, container: %s)", pod, c.Name)}
		}
		return nil
	}
	if !sc.RunAsNonRoot && sc.RunAsGroup == nil {
		return nil // containerd runs the image's user
	}
	st, err := r.o.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: c.Image}})
	if err != nil {
		return fmt.Errorf("read the user of image %s: %w", c.Image, err)
	}
	img := st.GetImage()
	if img == nil {
		return fmt.Errorf("read the user of image %s: the image is not present", c.Image)
	}
	var uid int64 // an image without a user runs as root
	switch {
	case img.GetUid() != nil:
		uid = img.GetUid().GetValue()
	case img.GetUsername() != "":
		if sc.RunAsNonRoot {
			return &configError{fmt.Sprintf("container has runAsNonRoot and image has non-numeric user (%s), cannot verify user is non-root (pod: %q, container: %s)",
				clip(img.GetUsername()), pod, c.Name)}
		}
		out.RunAsUsername = img.GetUsername()
		return nil
	}
	switch {
	case sc.RunAsNonRoot && uid == 0:
		return &configError{fmt.Sprintf("container has runAsNonRoot and image will run as root (pod: %q, container: %s)", pod, c.Name)}
	case sc.RunAsNonRoot && (uid < 0 || uid > math.MaxInt32):
		return &configError{fmt.Sprintf("container has runAsNonRoot and image has an invalid user id (%d). (Must be 1-(%d)) (pod: %q, container: %s)",
			uid, math.MaxInt32, pod, c.Name)}
	}
	out.RunAsUser = &runtimeapi.Int64Value{Value: uid}
	return nil
}

// The labels that name the pod a group runs, from the tags the node
// agent gives its groups (the service turns each tag into a "tag."
// label).
const (
	labelPodName      = "tag.PodName"
	labelPodNamespace = "tag.Namespace"
	labelPodUID       = "tag.UID"
)

// podRef names the pod of a group in messages as the kubelet does
// (name_namespace(uid)), from its labels; the group's name when they do
// not say.
func podRef(spec runtime.GroupSpec) string {
	name, ns := spec.Labels[labelPodName], spec.Labels[labelPodNamespace]
	if name == "" || ns == "" {
		return spec.Name
	}
	return clip(fmt.Sprintf("%s_%s(%s)", name, ns, spec.Labels[labelPodUID]))
}

// clip bounds what a message repeats of a value the runtime did not
// choose.
func clip(s string) string {
	const maxRepeated = 256
	if len(s) <= maxRepeated {
		return s
	}
	return s[:maxRepeated] + "…"
}

// writeSeccompProfile writes a container's seccomp profile (base64 JSON,
// as ACI takes it) to the group's directory and returns its path.
func (r *Runtime) writeSeccompProfile(id, container, profile string) (string, error) {
	data, err := base64.StdEncoding.DecodeString(profile)
	if err != nil || !json.Valid(data) {
		return "", &runtime.Error{Reason: runtime.ReasonInvalidSpec,
			Message: fmt.Sprintf("container %s: the seccomp profile is not base64-encoded JSON", container)}
	}
	dir := filepath.Join(r.groupDir(id), "seccomp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("seccomp profile of %s: %w", container, err)
	}
	path := filepath.Join(dir, container+".json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return "", fmt.Errorf("seccomp profile of %s: %w", container, err)
	}
	return path, nil
}

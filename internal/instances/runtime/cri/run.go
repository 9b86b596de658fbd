package cri

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// cleanupTimeout bounds the removal of what a failed create made.
const cleanupTimeout = time.Minute

// Run creates the group's sandbox, pulls its images, runs its init
// containers to completion in order and starts its containers. A group that
// exists and is not stopped is left alone; a stopped one is deployed anew.
// A failing Run leaves nothing behind.
func (r *Runtime) Run(ctx context.Context, spec runtime.GroupSpec) error {
	if err := checkSpec(spec); err != nil {
		return err
	}
	r.mu.Lock()
	old := r.groups[spec.ID]
	r.mu.Unlock()
	if old != nil && !old.stopped {
		return nil
	}
	if old != nil {
		if err := r.removeSandbox(ctx, old.sandboxID); err != nil {
			return err
		}
	}
	g := newGroup(spec)
	if old != nil {
		carryPrevious(g, old)
	}
	if err := r.register(g); err != nil {
		return err
	}
	if err := r.deploy(ctx, g); err != nil {
		r.abandon(g)
		return err
	}
	return nil
}

// register saves a new group's spec and adds it to the groups.
func (r *Runtime) register(g *group) error {
	r.files.Lock()
	defer r.files.Unlock()
	if err := r.saveSpec(g.spec); err != nil {
		return err
	}
	r.mu.Lock()
	r.groups[g.spec.ID] = g
	r.mu.Unlock()
	return nil
}

// checkSpec refuses what this runtime will not run.
func checkSpec(spec runtime.GroupSpec) error {
	if err := checkSecrets(spec.Volumes); err != nil {
		return err
	}
	if err := checkGitRepos(spec.Volumes); err != nil {
		return err
	}
	for _, c := range append(append([]runtime.ContainerSpec{}, spec.InitContainers...), spec.Containers...) {
		if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
			return &runtime.Error{Reason: runtime.ReasonInvalidSpec,
				Message: fmt.Sprintf("container %s asks to be privileged, which this service does not allow", c.Name)}
		}
	}
	return nil
}

func carryPrevious(g, old *group) {
	for _, c := range g.all() {
		if o := old.container(c.spec.Name); o != nil {
			prev := o.status.Current
			c.status.Previous = &prev
		}
	}
}

// deploy does the work of Run for a new group. The group's hosts file is
// written once the sandbox has its IP, before any container starts.
func (r *Runtime) deploy(ctx context.Context, g *group) error {
	mounts, err := r.prepareVolumes(ctx, g)
	if err != nil {
		return err
	}
	if err := r.pullImages(ctx, g); err != nil {
		return err
	}
	slotRelease, err := r.slot(ctx)
	if err != nil {
		return err
	}
	release := sync.OnceFunc(slotRelease)
	defer release()
	spec := r.specOf(g)
	sbCfg := r.sandboxConfig(spec)
	resp, err := r.o.Runtime.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: sbCfg})
	if err != nil {
		return fmt.Errorf("create the sandbox of %s: %w", spec.Name, err)
	}
	ip, err := r.sandboxIP(ctx, resp.PodSandboxId)
	if err == nil {
		err = r.writeHosts(spec, ip)
	}
	if err != nil {
		// The sandbox goes even when the create was cancelled, within a
		// bound; one left behind is removed when the runtime next opens.
		cleanupCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
		defer cancel()
		if rerr := r.removeSandbox(cleanupCtx, resp.PodSandboxId); rerr != nil {
			r.o.Logger.Warn("remove the sandbox of a failed create", "group", spec.ID, "sandbox", resp.PodSandboxId, "err", rerr)
		}
		return err
	}
	r.mu.Lock()
	g.sandboxID, g.ip = resp.PodSandboxId, ip
	g.dirty = true
	r.publish(g, false)
	r.mu.Unlock()
	if len(g.inits) > 0 {
		release() // init containers may run for long: they do not hold a slot
	}
	for _, c := range g.inits {
		if err := r.runInit(ctx, g, c, sbCfg, mounts); err != nil {
			return err
		}
	}
	if slices.ContainsFunc(g.mains, hasPostStart) {
		release() // postStart hooks may run for long: they do not hold a slot
	}
	// As the kubelet, each container starts once the one before it has
	// run its postStart hook.
	for _, c := range g.mains {
		if err := r.createStart(ctx, g, c, sbCfg, mounts); err != nil {
			return err
		}
		r.postStart(ctx, g, c)
	}
	return nil
}

// abandon undoes a failed deployment: everything goes, the events so far
// are published with the removal.
func (r *Runtime) abandon(g *group) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if g.sandboxID != "" {
		if err := r.removeSandbox(ctx, g.sandboxID); err != nil {
			r.o.Logger.Warn("remove the sandbox of a failed group", "group", g.spec.ID, "err", err)
		}
	}
	r.files.Lock()
	defer r.files.Unlock()
	if err := r.removeGroupFiles(r.specOf(g)); err != nil {
		r.o.Logger.Warn("remove the files of a failed group", "group", g.spec.ID, "err", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.groups[g.spec.ID] == g {
		delete(r.groups, g.spec.ID)
	}
	r.publish(g, true)
}

// pullImages pulls every image the group needs that is not cached, with
// the group's registry credentials.
func (r *Runtime) pullImages(ctx context.Context, g *group) error {
	seen := map[string]bool{}
	for _, c := range g.all() {
		img := c.spec.Image
		if seen[img] {
			continue
		}
		seen[img] = true
		auth := authFor(img, g.spec.RegistryCredentials)
		// A cached image serves at once, unless it is private: then the
		// registry checks this group's credentials again (the pull of a
		// present image fetches only its manifest). An image is marked
		// private before its pull, and a cached one is looked up before
		// the mark is read, so a group deployed alongside one with
		// credentials cannot slip in between.
		if auth != nil {
			if err := r.private.add(img); err != nil {
				return err
			}
		} else {
			st, err := r.o.Images.ImageStatus(ctx, &runtimeapi.ImageStatusRequest{Image: &runtimeapi.ImageSpec{Image: img}})
			if err == nil && st.Image != nil && !r.private.has(img) {
				r.groupEvent(g, c.spec.Name, backend.EventPulled, "Normal", "Container image %q already present on machine", img)
				continue
			}
		}
		r.groupEvent(g, c.spec.Name, backend.EventPulling, "Normal", "pulling image %q", img)
		began := r.o.Clock.Now()
		_, err := r.o.Images.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: img}, Auth: auth})
		if err != nil {
			msg := fmt.Sprintf("Failed to pull image %q: %v", img, err)
			r.groupEvent(g, c.spec.Name, backend.EventFailed, "Warning", "%s", msg)
			return &runtime.Error{Reason: runtime.ReasonImagePull, Message: msg}
		}
		r.groupEvent(g, c.spec.Name, backend.EventPulled, "Normal", "Successfully pulled image %q in %s", img,
			r.o.Clock.Since(began).Round(time.Millisecond))
	}
	return nil
}

// groupEvent records and publishes one event.
func (r *Runtime) groupEvent(g *group, ctr, name, typ, format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	g.event(r, ctr, name, typ, format, args...)
	r.publish(g, false)
}

// authFor returns the credential whose server is the image's registry.
func authFor(image string, creds []runtime.RegistryCredential) *runtimeapi.AuthConfig {
	host := registryHost(image)
	for _, c := range creds {
		if strings.EqualFold(strings.TrimSuffix(c.Server, "/"), host) {
			return &runtimeapi.AuthConfig{Username: c.Username, Password: c.Password}
		}
	}
	return nil
}

// registryHost is the registry part of an image reference (docker.io when
// there is none).
func registryHost(image string) string {
	first, _, found := strings.Cut(image, "/")
	if found && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return "docker.io"
}

func (r *Runtime) sandboxConfig(spec runtime.GroupSpec) *runtimeapi.PodSandboxConfig {
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata:     &runtimeapi.PodSandboxMetadata{Name: spec.Name, Uid: spec.ID, Namespace: Namespace},
		Hostname:     spec.HostName(),
		LogDirectory: filepath.Join(r.groupDir(spec.ID), "logs"),
		Labels:       map[string]string{LabelGroupID: spec.ID},
		Linux:        &runtimeapi.LinuxPodSandboxConfig{},
	}
	if d := spec.DNS; d != nil {
		cfg.DnsConfig = &runtimeapi.DNSConfig{Servers: d.NameServers, Searches: d.SearchDomains, Options: d.Options}
	}
	for _, p := range spec.Ports {
		proto := runtimeapi.Protocol_TCP
		if strings.EqualFold(p.Protocol, "UDP") {
			proto = runtimeapi.Protocol_UDP
		}
		cfg.PortMappings = append(cfg.PortMappings, &runtimeapi.PortMapping{Protocol: proto, ContainerPort: p.Port})
	}
	return cfg
}

func (r *Runtime) sandboxIP(ctx context.Context, id string) (string, error) {
	st, err := r.o.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: id})
	if err != nil {
		return "", fmt.Errorf("status of sandbox %s: %w", id, err)
	}
	return st.Status.GetNetwork().GetIp(), nil
}

// containerConfig is the CRI configuration of one attempt of a container:
// its variables filled from the group get the group's IP, the group's
// hosts file is its /etc/hosts unless it mounts a volume there, and an
// empty termination message file is mounted at its termination message
// path.
func (r *Runtime) containerConfig(g *group, c *container, mounts map[string]string) (*runtimeapi.ContainerConfig, error) {
	r.mu.Lock()
	spec, ip := g.spec, g.ip
	r.mu.Unlock()
	cfg := &runtimeapi.ContainerConfig{
		Metadata: &runtimeapi.ContainerMetadata{Name: c.spec.Name, Attempt: c.attempt},
		Image:    &runtimeapi.ImageSpec{Image: c.spec.Image},
		// containerd applies the image's config as a kubelet's runtime
		// does: without a command the image's entrypoint runs, followed
		// by the args, or by the image's arguments when there are none.
		Command: c.spec.Command,
		Args:    c.spec.Args,
		LogPath: filepath.Join(c.spec.Name, fmt.Sprintf("%d.log", c.attempt)),
		Labels:  map[string]string{LabelGroupID: spec.ID},
		Linux:   &runtimeapi.LinuxContainerConfig{Resources: resources(c.spec)},
	}
	sc, err := r.securityContext(spec.ID, c.spec)
	if err != nil {
		return nil, err
	}
	cfg.Linux.SecurityContext = sc
	for _, e := range runtime.FillFieldEnv(c.spec.Env, ip) {
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: e.Name, Value: []byte(e.Value)})
	}
	ms, err := volumeMounts(spec, c.spec, mounts)
	if err != nil {
		return nil, err
	}
	cfg.Mounts = ms
	if !mountsHosts(c.spec) {
		cfg.Mounts = append(cfg.Mounts, &runtimeapi.Mount{ContainerPath: etcHosts, HostPath: r.hostsPath(spec.ID)})
	}
	tm, err := r.terminationMount(spec.ID, c.spec)
	if err != nil {
		return nil, err
	}
	if tm != nil {
		cfg.Mounts = append(cfg.Mounts, tm)
	}
	return cfg, nil
}

// volumeMounts are a container's mounts of the group's volumes, whose host
// directories mounts gives.
func volumeMounts(spec runtime.GroupSpec, c runtime.ContainerSpec, mounts map[string]string) ([]*runtimeapi.Mount, error) {
	// A file share the group mounts read-only is read-only in every
	// container. Secret volumes are read-only whatever a mount asks, as the
	// kubelet's are since CVE-2017-1002102: the service rewrites their
	// files while containers run, and a container must not be able to
	// plant anything there.
	readOnlyVolumes := map[string]bool{}
	for _, v := range spec.Volumes {
		if v.Secret != nil || v.AzureFile != nil && v.AzureFile.ReadOnly {
			readOnlyVolumes[v.Name] = true
		}
	}
	var out []*runtimeapi.Mount
	for _, m := range c.VolumeMounts {
		host, ok := mounts[m.Name]
		if !ok {
			return nil, &runtime.Error{Reason: runtime.ReasonInvalidSpec,
				Message: fmt.Sprintf("container %s mounts volume %s, which the group does not define", c.Name, m.Name)}
		}
		out = append(out, &runtimeapi.Mount{ContainerPath: m.MountPath, HostPath: host,
			Readonly: m.ReadOnly || readOnlyVolumes[m.Name]})
	}
	return out, nil
}

// resources turns requests and limits into cgroup settings: CPU shares
// from the request, a CFS quota from the limit, and a memory limit from the
// limit or else the request (ACI enforces what a group requested).
func resources(c runtime.ContainerSpec) *runtimeapi.LinuxContainerResources {
	res := &runtimeapi.LinuxContainerResources{CpuShares: max(2, int64(c.CPU*1024))}
	if c.CPULimit > 0 {
		res.CpuPeriod = 100000
		res.CpuQuota = int64(c.CPULimit * 100000)
	}
	mem := c.MemoryLimitInGB
	if mem <= 0 {
		mem = c.MemoryInGB
	}
	if mem > 0 {
		res.MemoryLimitInBytes = int64(mem * (1 << 30))
	}
	return res
}

// securityContext is a container's CRI security context. Every container
// runs under a seccomp profile: the runtime's default (RuntimeDefault, as
// the kubelet's SeccompDefault) unless its spec brings one of its own,
// which is written to the group's directory for containerd to load.
func (r *Runtime) securityContext(id string, c runtime.ContainerSpec) (*runtimeapi.LinuxContainerSecurityContext, error) {
	out := &runtimeapi.LinuxContainerSecurityContext{
		Seccomp: &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_RuntimeDefault}}
	sc := c.SecurityContext
	if sc == nil {
		return out, nil
	}
	if sc.RunAsUser != nil {
		out.RunAsUser = &runtimeapi.Int64Value{Value: *sc.RunAsUser}
	}
	if sc.RunAsGroup != nil {
		out.RunAsGroup = &runtimeapi.Int64Value{Value: *sc.RunAsGroup}
	}
	if sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation {
		out.NoNewPrivs = true
	}
	if len(sc.CapabilitiesAdd) > 0 || len(sc.CapabilitiesDrop) > 0 {
		out.Capabilities = &runtimeapi.Capability{AddCapabilities: sc.CapabilitiesAdd, DropCapabilities: sc.CapabilitiesDrop}
	}
	if sc.SeccompProfile != "" {
		path, err := r.writeSeccompProfile(id, c.Name, sc.SeccompProfile)
		if err != nil {
			return nil, err
		}
		out.Seccomp = &runtimeapi.SecurityProfile{ProfileType: runtimeapi.SecurityProfile_Localhost, LocalhostRef: path}
	}
	return out, nil
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

// createStart creates the container's next attempt and starts it.
func (r *Runtime) createStart(ctx context.Context, g *group, c *container, sbCfg *runtimeapi.PodSandboxConfig,
	mounts map[string]string) error {
	cfg, err := r.containerConfig(g, c, mounts)
	if err != nil {
		return err
	}
	resp, err := r.o.Runtime.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: g.sandboxID,
		Config: cfg, SandboxConfig: sbCfg})
	if err != nil {
		return fmt.Errorf("create container %s: %w", c.spec.Name, err)
	}
	r.mu.Lock()
	c.id = resp.ContainerId
	g.event(r, c.spec.Name, backend.EventCreated, "Normal", "Created container %s", c.spec.Name)
	r.publish(g, false)
	r.mu.Unlock()
	if _, err := r.o.Runtime.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: resp.ContainerId}); err != nil {
		return fmt.Errorf("start container %s: %w", c.spec.Name, err)
	}
	// The runtime's own start time, which later polls report too: a
	// clock reading here would differ from it by a few milliseconds and
	// show as a change of the container's state.
	started := r.o.Clock.Now()
	if st, err := r.o.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: resp.ContainerId}); err == nil &&
		st.Status != nil && st.Status.StartedAt > 0 {
		started = time.Unix(0, st.Status.StartedAt)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g.event(r, c.spec.Name, backend.EventStarted, "Normal", "Started container %s", c.spec.Name)
	if hasPostStart(c) {
		// Started once its postStart hook succeeds (see postStart).
		c.inPostStart, c.startedAt = true, started
		c.status.Current = runtime.ContainerState{State: runtime.StateWaiting, DetailStatus: backend.ReasonContainerCreating}
		c.status.Ready = false
		r.publish(g, false)
		return nil
	}
	c.status.Current = runtime.ContainerState{State: runtime.StateRunning, StartTime: started}
	c.status.Ready = !c.init && c.spec.ReadinessProbe == nil
	r.publish(g, false)
	return nil
}

// runInit runs an init container to completion, retrying a failure with
// back-off unless the restart policy is Never.
func (r *Runtime) runInit(ctx context.Context, g *group, c *container, sbCfg *runtimeapi.PodSandboxConfig,
	mounts map[string]string) error {
	backoff := time.Duration(0)
	for {
		if err := r.createStart(ctx, g, c, sbCfg, mounts); err != nil {
			return err
		}
		code, err := r.waitExit(ctx, g, c)
		if err != nil {
			return err
		}
		if code == 0 {
			return nil
		}
		if g.spec.RestartPolicy == runtime.RestartNever {
			return &runtime.Error{Reason: "InitContainerFailed",
				Message: fmt.Sprintf("init container %s exited with code %d", c.spec.Name, code)}
		}
		backoff = nextBackoff(backoff)
		r.groupEvent(g, c.spec.Name, backend.EventBackOff, "Warning", "Back-off %s restarting failed init container %s", backoff, c.spec.Name)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.o.Clock.After(backoff):
		}
		r.mu.Lock()
		c.attempt++
		c.restarts++
		c.status.RestartCount = c.restarts
		r.mu.Unlock()
	}
}

// waitExit polls an init container until it exits and returns its code.
func (r *Runtime) waitExit(ctx context.Context, g *group, c *container) (int32, error) {
	t := r.o.Clock.NewTicker(r.o.PollInterval)
	defer t.Stop()
	for {
		st, err := r.containerStatus(ctx, g, c, c.id)
		if err != nil {
			return 0, fmt.Errorf("status of init container %s: %w", c.spec.Name, err)
		}
		if st.State == runtimeapi.ContainerState_CONTAINER_EXITED {
			r.mu.Lock()
			r.applyCRIStatus(g, c, st)
			r.publish(g, false)
			r.mu.Unlock()
			return st.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-t.C():
		}
	}
}

func nextBackoff(d time.Duration) time.Duration {
	switch {
	case d == 0:
		return backoffInitial
	case d*2 > backoffMax:
		return backoffMax
	}
	return d * 2
}

// removeSandbox stops and removes a sandbox; a missing one is fine.
func (r *Runtime) removeSandbox(ctx context.Context, id string) error {
	if id == "" {
		return nil
	}
	if _, err := r.o.Runtime.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: id}); err != nil && !isNotFound(err) {
		return fmt.Errorf("stop sandbox %s: %w", id, err)
	}
	if _, err := r.o.Runtime.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: id}); err != nil && !isNotFound(err) {
		return fmt.Errorf("remove sandbox %s: %w", id, err)
	}
	return nil
}

func isNotFound(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "not found") || errors.Is(err, runtime.ErrNotFound))
}

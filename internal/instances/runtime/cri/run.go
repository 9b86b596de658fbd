package cri

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/backend"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/sysctl"
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
	return checkSysctls(spec.Sysctls)
}

// checkSysctls refuses any kernel parameter outside the safe set, and
// values that are not one line of printable text: the runtime runs as
// root, and containerd writes what it is given into /proc/sys.
func checkSysctls(sysctls map[string]string) error {
	for name, v := range sysctls {
		if !sysctl.IsSafe(name) {
			return &runtime.Error{Reason: runtime.ReasonInvalidSpec,
				Message: fmt.Sprintf("sysctl %q is not one this service sets (allowed: %s)", clip(name), strings.Join(sysctl.Safe(), ", "))}
		}
		if p := sysctl.ValueProblem(v); p != "" {
			return &runtime.Error{Reason: runtime.ReasonInvalidSpec, Message: fmt.Sprintf("the value of sysctl %s %s", name, p)}
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
	g.starting = true // the poll loop leaves the first start to us
	g.dirty = true
	r.publish(g, false)
	r.mu.Unlock()
	if len(g.inits) > 0 || slices.ContainsFunc(g.mains, hasPostStart) {
		release() // init containers and postStart hooks may run for long: they do not hold a slot
	}
	// The first init container (or, without any, the containers) starts
	// here, so that what cannot start fails the deployment; the poll loop
	// starts the rest as their predecessors succeed.
	err = r.startNext(ctx, g, sbCfg, mounts)
	r.mu.Lock()
	g.starting = false
	r.mu.Unlock()
	return err
}

// startNext starts what comes next in the group's order, as the kubelet's
// computeInitContainerActions does: its first init container that has not
// succeeded, one at a time, and once every init container has succeeded
// the containers not started yet.
func (r *Runtime) startNext(ctx context.Context, g *group, sbCfg *runtimeapi.PodSandboxConfig, mounts map[string]string) error {
	r.mu.Lock()
	now := r.o.Clock.Now()
	var next []*container
	switch {
	case g.stopped:
	case g.initsDone < len(g.inits):
		if c := g.inits[g.initsDone]; c.startDue(now) {
			next = append(next, c)
		}
	default:
		for _, c := range g.mains {
			if c.startDue(now) {
				next = append(next, c)
				c.status.Current.DetailStatus = backend.ReasonContainerCreating
				g.dirty = true
			}
		}
		r.publish(g, false)
	}
	r.mu.Unlock()
	// As the kubelet, each container starts once the one before it has
	// run its postStart hook.
	for _, c := range next {
		err := r.createStart(ctx, g, c, sbCfg, mounts)
		if errors.Is(err, errConfigWait) {
			// The container waits for its configuration, and a later
			// poll tries it again (see dueAdvance); the others start.
			continue
		}
		if err != nil {
			return err
		}
		r.postStart(ctx, g, c)
	}
	return nil
}

// advance starts what comes next in a running group (see startNext), in
// the background of the poll loop; a failure is reported as an event and
// retried after a back-off.
func (r *Runtime) advance(ctx context.Context, g *group) {
	spec := r.specOf(g)
	mounts, err := r.volumePaths(spec)
	if err == nil {
		err = r.startNext(ctx, g, r.sandboxConfig(spec), mounts)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g.starting = false
	if err != nil {
		g.nextAdvance = r.o.Clock.Now().Add(backoffInitial)
		g.event(r, "", backend.EventFailed, "Warning", "Starting the group's next containers failed: %v", err)
		r.publish(g, false)
	}
}

// dueAdvance reports whether the group has a container to start next that
// is not started yet (see startNext), and marks the start in flight.
// Callers hold r.mu.
func (r *Runtime) dueAdvance(g *group) bool {
	if g.starting || r.o.Clock.Now().Before(g.nextAdvance) {
		return false
	}
	now, due := r.o.Clock.Now(), false
	if g.initsDone < len(g.inits) {
		due = g.inits[g.initsDone].startDue(now)
	} else {
		for _, c := range g.mains {
			due = due || c.startDue(now)
		}
	}
	g.starting = due
	return due
}

// startDue reports whether c has no CRI container and may be created at
// now: it is not waiting for its configuration, or its next try is due.
// Callers hold r.mu.
func (c *container) startDue(now time.Time) bool {
	return c.id == "" && !(c.configWaiting() && now.Before(c.configRetry))
}

// activeContainers are the containers of the group the poll loop follows:
// the running (or last failed) init container while the group initialises,
// else its started containers. Callers hold r.mu.
func (g *group) activeContainers() []*container {
	if g.initsDone < len(g.inits) {
		if c := g.inits[g.initsDone]; c.id != "" {
			return []*container{c}
		}
		return nil
	}
	var out []*container
	for _, c := range g.mains {
		if c.id != "" {
			out = append(out, c)
		}
	}
	return out
}

// initSucceeded counts an exited init container that succeeded and
// reports whether the group has more to start. Callers hold r.mu.
func (g *group) initSucceeded(c *container) bool {
	if !c.init || g.initsDone >= len(g.inits) || g.inits[g.initsDone] != c {
		return false
	}
	if cur := c.status.Current; cur.State != runtime.StateTerminated || cur.ExitCode != 0 {
		return false
	}
	g.initsDone++
	g.dirty = true
	return true
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
		Linux:        &runtimeapi.LinuxPodSandboxConfig{Sysctls: spec.Sysctls},
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
// hosts file is its /etc/hosts unless it mounts a volume there, an
// empty termination message file is mounted at its termination message
// path, subPath mounts are bound anew and the group's fsGroup is a
// supplementary group.
func (r *Runtime) containerConfig(ctx context.Context, g *group, c *container, mounts map[string]string) (*runtimeapi.ContainerConfig, error) {
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
	sc, err := r.securityContext(ctx, spec, c.spec)
	if err != nil {
		return nil, err
	}
	withFSGroup(sc, spec)
	cfg.Linux.SecurityContext = sc
	for _, e := range runtime.FillFieldEnv(c.spec.Env, ip) {
		cfg.Envs = append(cfg.Envs, &runtimeapi.KeyValue{Key: e.Name, Value: []byte(e.Value)})
	}
	ms, err := volumeMounts(spec, c.spec, mounts)
	if err != nil {
		return nil, err
	}
	if err := r.bindSubPaths(spec.ID, c.spec, ms); err != nil {
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

// createStart creates the container's next attempt and starts it.
func (r *Runtime) createStart(ctx context.Context, g *group, c *container, sbCfg *runtimeapi.PodSandboxConfig,
	mounts map[string]string) error {
	cfg, err := r.containerConfig(ctx, g, c, mounts)
	var cfgErr *configError
	if errors.As(err, &cfgErr) {
		r.configWait(g, c, cfgErr.msg)
		return fmt.Errorf("container %s: %w", c.spec.Name, errConfigWait)
	}
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
	started, imageID := r.o.Clock.Now(), ""
	if st, err := r.o.Runtime.ContainerStatus(ctx, &runtimeapi.ContainerStatusRequest{ContainerId: resp.ContainerId}); err == nil &&
		st.Status != nil {
		if st.Status.StartedAt > 0 {
			started = time.Unix(0, st.Status.StartedAt)
		}
		imageID = st.Status.ImageRef
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if imageID != "" {
		c.status.ImageID = imageID
	}
	c.configBackoff = 0
	g.event(r, c.spec.Name, backend.EventStarted, "Normal", "Started container %s", c.spec.Name)
	if hasPostStart(c) {
		// Started once its postStart hook succeeds (see postStart).
		c.inPostStart, c.startedAt = true, started
		c.status.Current = runtime.ContainerState{State: runtime.StateWaiting, DetailStatus: backend.ReasonContainerCreating}
		c.status.Ready, c.status.Started = false, false
		r.publish(g, false)
		return nil
	}
	c.status.Current = runtime.ContainerState{State: runtime.StateRunning, StartTime: started}
	c.setVerdicts(true)
	r.publish(g, false)
	return nil
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

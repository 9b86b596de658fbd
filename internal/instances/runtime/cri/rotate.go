package cri

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/runtime/cri/crilog"
)

// logTarget is the current attempt of a running container.
type logTarget struct {
	group, name, cid string
	attempt          uint32
}

// rotateLogs, every LogCheckInterval, rotates the log of each running container that has reached
// LogMaxSize, and removes the logs of its attempts before the previous one
// (as the kubelet keeps only the last dead container of each). Only
// running containers write: the others' logs stay as they are.
func (r *Runtime) rotateLogs(ctx context.Context) {
	list, err := r.o.Runtime.ListContainers(ctx, &runtimeapi.ListContainersRequest{Filter: &runtimeapi.ContainerFilter{
		State: &runtimeapi.ContainerStateValue{State: runtimeapi.ContainerState_CONTAINER_RUNNING}}})
	if err != nil {
		r.o.Logger.Warn("list containers to rotate their logs", "err", err)
		return
	}
	running := map[string]bool{}
	for _, c := range list.Containers {
		running[c.Id] = true
	}
	for _, tg := range r.logTargets(running) {
		if err := r.rotateLog(ctx, tg); err != nil {
			r.o.Logger.Warn("rotate container log", "group", tg.group, "container", tg.name, "err", err)
		}
	}
}

// logTargets are the current attempts among running of the groups not
// being changed.
func (r *Runtime) logTargets(running map[string]bool) []logTarget {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []logTarget
	for id, g := range r.groups {
		if g.stopped || g.busy {
			continue
		}
		for _, c := range g.all() {
			if running[c.id] {
				out = append(out, logTarget{group: id, name: c.spec.Name, cid: c.id, attempt: c.attempt})
			}
		}
	}
	return out
}

// rotateLog rotates one container's log and prunes its old attempts. It
// holds r.files so that the group's directory is not removed meanwhile.
func (r *Runtime) rotateLog(ctx context.Context, tg logTarget) error {
	r.files.Lock()
	defer r.files.Unlock()
	if !r.isCurrent(tg) {
		return nil // removed, stopped or restarted since it was listed
	}
	reopen := func(ctx context.Context) error {
		_, err := r.o.Runtime.ReopenContainerLog(ctx, &runtimeapi.ReopenContainerLogRequest{ContainerId: tg.cid})
		return err
	}
	path := r.logPath(tg.group, tg.name, tg.attempt)
	if _, err := crilog.Rotate(ctx, path, r.o.Clock.Now(), r.o.logPolicy(), reopen); err != nil {
		return err
	}
	return pruneAttempts(filepath.Dir(path), tg.attempt)
}

// isCurrent reports whether tg is still its container's attempt in a group
// that runs and is not being changed.
func (r *Runtime) isCurrent(tg logTarget) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.groups[tg.group]
	if g == nil || g.stopped || g.busy {
		return false
	}
	c := g.container(tg.name)
	return c != nil && c.id == tg.cid && c.attempt == tg.attempt
}

// pruneAttempts removes from a container's log directory the logs of
// attempts other than attempt and the one before it.
func pruneAttempts(dir string, attempt uint32) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("list the logs of old attempts: %w", err)
	}
	for _, e := range entries {
		n, ok := logAttempt(e.Name())
		if !ok || n == attempt || n+1 == attempt {
			continue
		}
		if err := crilog.Remove(filepath.Join(dir, fmt.Sprintf("%d.log", n))); err != nil {
			return fmt.Errorf("remove the log of attempt %d: %w", n, err)
		}
	}
	return nil
}

// logAttempt is the attempt whose log (current or rotated) a file is.
func logAttempt(name string) (uint32, bool) {
	num, rest, ok := strings.Cut(name, ".log")
	if !ok || (rest != "" && !strings.HasPrefix(rest, ".")) {
		return 0, false
	}
	n, err := strconv.ParseUint(num, 10, 32)
	return uint32(n), err == nil
}

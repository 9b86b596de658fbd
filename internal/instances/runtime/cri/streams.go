package cri

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// Exec runs cmd in a running container through CRI's streaming server and
// returns its exit code.
func (r *Runtime) Exec(ctx context.Context, id, container string, cmd []string, s runtime.Streams) (int, error) {
	cid, _, err := r.containerRef(id, container)
	if err != nil {
		return 0, err
	}
	resp, err := r.o.Runtime.Exec(ctx, &runtimeapi.ExecRequest{ContainerId: cid, Cmd: cmd, Tty: s.TTY,
		Stdin: s.Stdin != nil, Stdout: s.Stdout != nil, Stderr: s.Stderr != nil && !s.TTY})
	if err != nil {
		return 0, fmt.Errorf("exec in %s: %w", container, err)
	}
	return stream(ctx, resp.Url, s)
}

// Attach connects s to a running container's main process.
func (r *Runtime) Attach(ctx context.Context, id, container string, s runtime.Streams) error {
	cid, _, err := r.containerRef(id, container)
	if err != nil {
		return err
	}
	resp, err := r.o.Runtime.Attach(ctx, &runtimeapi.AttachRequest{ContainerId: cid, Tty: s.TTY,
		Stdin: s.Stdin != nil, Stdout: s.Stdout != nil, Stderr: s.Stderr != nil && !s.TTY})
	if err != nil {
		return fmt.Errorf("attach to %s: %w", container, err)
	}
	_, err = stream(ctx, resp.Url, s)
	return err
}

// stream speaks the kubelet's streaming protocol (SPDY) to a CRI URL.
func stream(ctx context.Context, rawURL string, s runtime.Streams) (int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return 0, fmt.Errorf("stream URL %q: %w", rawURL, err)
	}
	exe, err := remotecommand.NewSPDYExecutor(&rest.Config{}, "POST", u)
	if err != nil {
		return 0, fmt.Errorf("stream to %s: %w", u.Host, err)
	}
	opts := remotecommand.StreamOptions{Stdin: s.Stdin, Stdout: s.Stdout, Tty: s.TTY}
	if !s.TTY {
		opts.Stderr = s.Stderr
	}
	if s.TTY && s.Resize != nil {
		opts.TerminalSizeQueue = sizeQueue(s.Resize)
	}
	err = exe.StreamWithContext(ctx, opts)
	var exit utilexec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitStatus(), nil
	}
	if err != nil {
		return 0, fmt.Errorf("stream: %w", err)
	}
	return 0, nil
}

type sizeQueue <-chan runtime.TerminalSize

func (q sizeQueue) Next() *remotecommand.TerminalSize {
	s, ok := <-q
	if !ok {
		return nil
	}
	return &remotecommand.TerminalSize{Width: s.Cols, Height: s.Rows}
}

// Stats returns each running container's CPU and memory use.
func (r *Runtime) Stats(ctx context.Context, id string) (runtime.GroupStats, error) {
	r.mu.Lock()
	g, err := r.lookup(id)
	if err != nil {
		r.mu.Unlock()
		return runtime.GroupStats{}, err
	}
	ids, sandbox := map[string]string{}, g.sandboxID
	probes := map[string][]runtime.ProbeCount{}
	for _, c := range g.mains {
		if c.id != "" && c.status.Current.State == runtime.StateRunning {
			ids[c.id] = c.spec.Name
			probes[c.spec.Name] = c.probeResults()
		}
	}
	r.mu.Unlock()
	out := runtime.GroupStats{Time: r.o.Clock.Now()}
	for cid, name := range ids {
		resp, err := r.o.Runtime.ContainerStats(ctx, &runtimeapi.ContainerStatsRequest{ContainerId: cid})
		if err != nil {
			return out, fmt.Errorf("stats of %s: %w", name, err)
		}
		cs := runtime.ContainerStats{Name: name, Probes: probes[name]}
		if cpu := resp.Stats.GetCpu(); cpu != nil {
			cs.CPUUsageCoreNanoSeconds = cpu.GetUsageCoreNanoSeconds().GetValue()
			cs.CPUUsageNanoCores = cpu.GetUsageNanoCores().GetValue()
			if cs.CPUUsageNanoCores == 0 {
				at := time.Unix(0, cpu.GetTimestamp())
				cs.CPUUsageNanoCores = r.nanoCores(cid, at, cs.CPUUsageCoreNanoSeconds)
			}
		}
		if mem := resp.Stats.GetMemory(); mem != nil {
			cs.MemoryWorkingSetBytes = mem.GetWorkingSetBytes().GetValue()
			cs.MemoryUsageBytes = mem.GetUsageBytes().GetValue()
			cs.MemoryRSSBytes = mem.GetRssBytes().GetValue()
		}
		out.Containers = append(out.Containers, cs)
	}
	sort.Slice(out.Containers, func(i, j int) bool { return out.Containers[i].Name < out.Containers[j].Name })
	if len(ids) > 0 {
		network, err := r.sandboxNetwork(ctx, sandbox)
		if err != nil {
			return out, err
		}
		out.Network = network
	}
	return out, nil
}

// sandboxNetwork reads the counters of a sandbox's interface, as its
// process sees them (/proc/PID/net/dev: containerd 1.6's PodSandboxStats
// needs a cgroup parent the service's sandboxes have not); nil when the
// sandbox has no process.
func (r *Runtime) sandboxNetwork(ctx context.Context, sandbox string) (*runtime.NetworkStats, error) {
	st, err := r.o.Runtime.PodSandboxStatus(ctx, &runtimeapi.PodSandboxStatusRequest{PodSandboxId: sandbox, Verbose: true})
	if err != nil {
		return nil, fmt.Errorf("status of sandbox %s: %w", sandbox, err)
	}
	var info struct {
		Pid int `json:"pid"`
	}
	if err := json.Unmarshal([]byte(st.GetInfo()["info"]), &info); err != nil || info.Pid <= 0 {
		return nil, nil
	}
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(info.Pid), "net", "dev"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // the sandbox stopped meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("network of sandbox %s: %w", sandbox, err)
	}
	defer f.Close()
	n, err := readNetDev(f, sandboxInterface)
	if err != nil {
		return nil, fmt.Errorf("network of sandbox %s: %w", sandbox, err)
	}
	return n, nil
}

// sandboxInterface is the interface containerd's CNI setup gives a sandbox.
const sandboxInterface = "eth0"

// readNetDev returns the counters of interface name in the format of
// /proc/net/dev, or nil when it is not listed.
func readNetDev(r io.Reader, name string) (*runtime.NetworkStats, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		iface, counters, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(iface) != name {
			continue
		}
		f := strings.Fields(counters)
		if len(f) < 16 {
			return nil, fmt.Errorf("interface %s: %d counters, want 16", name, len(f))
		}
		var v [16]uint64
		for i := range v {
			n, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("interface %s: %w", name, err)
			}
			v[i] = n
		}
		// Received: bytes packets errs drop fifo frame compressed multicast;
		// transmitted: bytes packets errs drop fifo colls carrier compressed.
		return &runtime.NetworkStats{Interface: name, RxBytes: v[0], RxErrors: v[2], TxBytes: v[8], TxErrors: v[10]}, nil
	}
	return nil, sc.Err()
}

// CachedImages lists the images containerd holds.
func (r *Runtime) CachedImages(ctx context.Context) ([]string, error) {
	resp, err := r.o.Images.ListImages(ctx, &runtimeapi.ListImagesRequest{})
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []string
	for _, img := range resp.Images {
		out = append(out, img.RepoTags...)
	}
	sort.Strings(out)
	return out, nil
}

// nanoCores derives a container's current CPU use (in billionths of a
// core) from its previous sample, as the kubelet does for runtimes that
// report only cumulative time; 0 for the first sample.
func (r *Runtime) nanoCores(cid string, at time.Time, coreNanos uint64) uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cpu == nil {
		r.cpu = map[string]cpuSample{}
	}
	prev, ok := r.cpu[cid]
	r.cpu[cid] = cpuSample{at: at, coreNanos: coreNanos}
	if len(r.cpu) > 4*len(r.groups)+64 { // forget containers that are gone
		for id := range r.cpu {
			if id != cid {
				delete(r.cpu, id)
			}
		}
	}
	elapsed := at.Sub(prev.at)
	if !ok || elapsed <= 0 || coreNanos < prev.coreNanos {
		return 0
	}
	return uint64(float64(coreNanos-prev.coreNanos) / elapsed.Seconds())
}

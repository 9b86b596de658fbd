// Package cri benchmarks creating container groups on containerd: through
// vnode's CRI runtime and through the container instances service's API,
// side by side with raw CRI sandbox + container creation through the same
// containerd (the floor).
package cri

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/vnode-io/vnode/internal/instances/app"
	"github.com/vnode-io/vnode/internal/instances/client"
	"github.com/vnode-io/vnode/internal/instances/config"
	"github.com/vnode-io/vnode/internal/instances/containerd"
	"github.com/vnode-io/vnode/internal/instances/network"
	"github.com/vnode-io/vnode/internal/instances/runtime"
	"github.com/vnode-io/vnode/internal/instances/runtime/cri"
	"github.com/vnode-io/vnode/internal/instances/sealer"
	"github.com/vnode-io/vnode/test/e2e/framework"
)

const (
	groups      = 100
	concurrency = 10
	benchSub    = "00000000-0000-0000-0000-0000000000be"
)

// BenchmarkCreateToRunning measures create→Running of 100 one-container
// groups (the hello image, cached) with 10 at a time, raw CRI first, then
// vnode's runtime. Run with -benchtime 1x, as root.
func BenchmarkCreateToRunning(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("needs root")
	}
	for i := 0; i < b.N; i++ {
		ctx := context.Background()
		dir := b.TempDir()
		_, refs := framework.StartImageRegistry(ctx, b, dir)
		bridge := fmt.Sprintf("vnb%d", os.Getpid()%100000)
		framework.RemoveEmptyDirsAtEnd(b, "/run/containerd", "/run/containerd/s")
		framework.DeleteLinkAtEnd(b, bridge)
		cni := filepath.Join(dir, "cni")
		if err := network.WriteCNIConfig(cni, network.Config{Name: "vnode-bench", Bridge: bridge,
			Subnet: "10.245.0.0/24", IPAMDir: filepath.Join(dir, "ipam")}); err != nil {
			b.Fatal(err)
		}
		d, err := containerd.Start(ctx, containerd.Config{Dir: filepath.Join(dir, "containerd"), SandboxImage: refs.Pause, CNIConfDir: cni})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = d.Cleanup(context.Background()) })
		for _, ref := range []string{refs.Pause, refs.Hello} {
			if _, err := d.ImageClient().PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: ref}}); err != nil {
				b.Fatal(err)
			}
		}

		floor := measure(b, func(i int) error { return rawCreate(ctx, d, refs.Hello, i) })
		if err := d.RemoveAllPods(ctx); err != nil {
			b.Fatal(err)
		}
		seal, err := sealer.LoadOrCreate(filepath.Join(dir, "secret.key"))
		if err != nil {
			b.Fatal(err)
		}
		rt, err := cri.New(ctx, cri.Options{Runtime: d.RuntimeClient(), Images: d.ImageClient(), Dir: filepath.Join(dir, "runtime"),
			StopTimeout: time.Second, Logger: slog.New(slog.DiscardHandler), Sealer: seal})
		if err != nil {
			b.Fatal(err)
		}
		vnode := measure(b, func(i int) error {
			return rt.Run(ctx, runtime.GroupSpec{ID: fmt.Sprintf("g-%d", i), Name: fmt.Sprintf("g-%d", i),
				RestartPolicy: runtime.RestartAlways, Containers: []runtime.ContainerSpec{{Name: "hello", Image: refs.Hello,
					CPU: 0.1, MemoryInGB: 0.1}}})
		})
		_ = rt.Close()
		if err := d.RemoveAllPods(ctx); err != nil {
			b.Fatal(err)
		}
		api := measureAPI(b, ctx, d, refs.Hello, filepath.Join(dir, "service"))
		report(b, "floor", floor)
		report(b, "vnode", vnode)
		report(b, "api", api)
		b.ReportMetric(percentile(vnode.lat, 0.5)/percentile(floor.lat, 0.5), "p50-ratio")
		b.ReportMetric(percentile(api.lat, 0.5)/percentile(floor.lat, 0.5), "api-p50-ratio")
	}
}

type result struct {
	lat  []float64 // seconds
	wall time.Duration
}

func measure(b *testing.B, create func(i int) error) result {
	b.Helper()
	var mu sync.Mutex
	var res result
	work := make(chan int)
	var wg sync.WaitGroup
	errs := make(chan error, groups)
	began := time.Now()
	for w := 0; w < concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				t0 := time.Now()
				if err := create(i); err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				res.lat = append(res.lat, time.Since(t0).Seconds())
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < groups; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	res.wall = time.Since(began)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return res
}

// measureAPI runs the container instances service on the same containerd
// (containerd.endpoint) and measures each group from the PUT until a GET
// shows its container running (polled every 50 ms), as an ARM client sees it.
func measureAPI(b *testing.B, ctx context.Context, d *containerd.Containerd, image, dir string) result {
	b.Helper()
	const token = "bench-token"
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte(token+" "+benchSub+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.TokensFile = filepath.Join(dir, "tokens")
	cfg.Containerd = config.Containerd{Endpoint: d.Socket(), StopTimeoutSeconds: 1}
	loc := config.DefaultLocationSpec("local")
	loc.Quota = config.Quota{StandardCores: 1 << 20, ContainerGroups: 1 << 20}
	cfg.Locations = []config.Location{loc}
	cfg.RateLimits = config.RateLimits{}
	if err := cfg.Complete(dir); err != nil {
		b.Fatal(err)
	}
	inst, err := app.Start(ctx, cfg, app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = inst.Close() }()
	files := client.Files{Endpoint: inst.URL, Token: token, CAFile: inst.CAFile,
		Subscription: benchSub, ResourceGroup: "bench", Location: "local"}
	f, err := files.ClientFactory(-1)
	if err != nil {
		b.Fatal(err)
	}
	groups := f.NewContainerGroupsClient()
	return measure(b, func(i int) error {
		name := fmt.Sprintf("api-%d", i)
		_, err := groups.BeginCreateOrUpdate(ctx, files.ResourceGroup, name, aci.ContainerGroup{
			Location: to.Ptr("local"),
			Properties: &aci.ContainerGroupPropertiesProperties{OSType: to.Ptr(aci.OperatingSystemTypesLinux),
				Containers: []*aci.Container{{Name: to.Ptr("hello"), Properties: &aci.ContainerProperties{Image: to.Ptr(image),
					Resources: &aci.ResourceRequirements{Requests: &aci.ResourceRequests{CPU: to.Ptr(1.0), MemoryInGB: to.Ptr(1.0)}}}}}},
		}, nil)
		if err != nil {
			return err
		}
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			g, err := groups.Get(ctx, files.ResourceGroup, name, nil)
			if err != nil {
				return err
			}
			if iv := g.Properties.Containers[0].Properties.InstanceView; iv != nil && iv.CurrentState != nil &&
				iv.CurrentState.State != nil && *iv.CurrentState.State == "Running" {
				return nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		return fmt.Errorf("group %s not running after 2 minutes", name)
	})
}

// rawCreate is the floor: sandbox, container, start, straight through CRI.
func rawCreate(ctx context.Context, d *containerd.Containerd, image string, i int) error {
	cfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("raw-%d", i), Uid: fmt.Sprintf("raw-%d", i), Namespace: "bench"},
		Hostname: fmt.Sprintf("raw-%d", i),
		Linux:    &runtimeapi.LinuxPodSandboxConfig{},
	}
	sb, err := d.RuntimeClient().RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: cfg})
	if err != nil {
		return err
	}
	c, err := d.RuntimeClient().CreateContainer(ctx, &runtimeapi.CreateContainerRequest{PodSandboxId: sb.PodSandboxId, SandboxConfig: cfg,
		Config: &runtimeapi.ContainerConfig{Metadata: &runtimeapi.ContainerMetadata{Name: "hello"}, Image: &runtimeapi.ImageSpec{Image: image}}})
	if err != nil {
		return err
	}
	_, err = d.RuntimeClient().StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: c.ContainerId})
	return err
}

func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[int(float64(len(s)-1)*p)]
}

func report(b *testing.B, name string, r result) {
	b.ReportMetric(percentile(r.lat, 0.5)*1000, name+"-p50-ms")
	b.ReportMetric(percentile(r.lat, 0.99)*1000, name+"-p99-ms")
	b.ReportMetric(float64(len(r.lat))/r.wall.Seconds(), name+"-groups/s")
}

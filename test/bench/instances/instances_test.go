// Package instances benchmarks the container instances service's API: GET
// and PUT latency at a steady request rate, and the highest sustained rate,
// from a loopback HTTPS client (the service runs in-process on the fake
// runtime, so the numbers are those of the API, store and service core).
package instances

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/instances/app"
	"github.com/vnode-io/vnode/internal/instances/client"
	"github.com/vnode-io/vnode/internal/instances/config"
)

const (
	sub   = "00000000-0000-0000-0000-0000000be7c4"
	token = "bench-token"
	// steadyRate and steadyFor shape the latency measurement.
	steadyRate = 200
	steadyFor  = 10 * time.Second
	// maxRateFor is how long the closed-loop clients run.
	maxRateFor = 10 * time.Second
)

type target struct {
	base string
	hc   *http.Client
}

func start(b *testing.B) *target {
	b.Helper()
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tokens"), []byte(token+" "+sub+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.Runtime = "fake"
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.TokensFile = filepath.Join(dir, "tokens")
	loc := config.DefaultLocationSpec("local")
	loc.Quota = config.Quota{StandardCores: 1 << 30, ContainerGroups: 1 << 30}
	cfg.Locations = []config.Location{loc}
	cfg.RateLimits = config.RateLimits{}
	if err := cfg.Complete(dir); err != nil {
		b.Fatal(err)
	}
	inst, err := app.Start(context.Background(), cfg, app.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = inst.Close() })
	files := client.Files{Endpoint: inst.URL, Token: token, CAFile: inst.CAFile}
	hc, err := files.HTTPClient()
	if err != nil {
		b.Fatal(err)
	}
	return &target{base: inst.URL, hc: hc}
}

func groupURL(base, name string) string {
	return base + "/subscriptions/" + sub + "/resourceGroups/bench/providers/Microsoft.ContainerInstance/containerGroups/" +
		name + "?api-version=2023-05-01"
}

const body = `{"location":"local","tags":{"PodName":"p"},"properties":{"osType":"Linux","restartPolicy":"Always",
"containers":[{"name":"app","properties":{"image":"registry.local/hello:1","ports":[{"port":80}],
"environmentVariables":[{"name":"A","value":"1"},{"name":"S","secureValue":"x"}],
"resources":{"requests":{"cpu":1,"memoryInGB":1.5}}}}],
"ipAddress":{"type":"Private","ports":[{"port":80,"protocol":"TCP"}]}}}`

// do sends one request and returns its latency; non-2xx is an error.
func (tg *target) do(method, url string, payload []byte) (time.Duration, error) {
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	began := time.Now()
	resp, err := tg.hc.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(began)
	if resp.StatusCode >= 300 {
		return d, fmt.Errorf("%s %s: HTTP %d", method, url, resp.StatusCode)
	}
	return d, nil
}

// steady sends rate requests per second for dur (open loop: a slow answer
// does not delay the next request) and returns the latencies.
func steady(b *testing.B, rate int, dur time.Duration, req func(i int) (time.Duration, error)) []time.Duration {
	b.Helper()
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	n := int(dur.Seconds() * float64(rate))
	for i := 0; i < n; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			d, err := req(i)
			if err != nil {
				failed.Add(1)
				return
			}
			mu.Lock()
			lat = append(lat, d)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d of %d requests failed", f, n)
	}
	return lat
}

// closedLoop runs clients that each send the next request when the last
// is answered, for dur, and returns requests per second.
func closedLoop(b *testing.B, clients int, dur time.Duration, req func(i int) (time.Duration, error)) float64 {
	b.Helper()
	var count, failed, seq atomic.Int64
	deadline := time.Now().Add(dur)
	var wg sync.WaitGroup
	began := time.Now()
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := req(int(seq.Add(1))); err != nil {
					failed.Add(1)
					continue
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		b.Fatalf("%d requests failed", f)
	}
	return float64(count.Load()) / time.Since(began).Seconds()
}

func percentile(lat []time.Duration, p float64) float64 {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	i := int(float64(len(lat)-1) * p)
	return float64(lat[i].Microseconds()) / 1000
}

// BenchmarkAPI measures GET and PUT latency at a steady 200 requests/s and
// the largest sustained rate of each. Run with -benchtime 1x.
func BenchmarkAPI(b *testing.B) {
	for i := 0; i < b.N; i++ {
		tg := start(b)
		payload := []byte(body)
		// 200 existing groups to read.
		for g := 0; g < 200; g++ {
			if _, err := tg.do(http.MethodPut, groupURL(tg.base, fmt.Sprintf("seed-%d", g)), payload); err != nil {
				b.Fatal(err)
			}
		}
		get := func(i int) (time.Duration, error) {
			return tg.do(http.MethodGet, groupURL(tg.base, fmt.Sprintf("seed-%d", i%200)), nil)
		}
		var created atomic.Int64
		put := func(int) (time.Duration, error) {
			return tg.do(http.MethodPut, groupURL(tg.base, fmt.Sprintf("g-%d", created.Add(1))), payload)
		}
		getLat := steady(b, steadyRate, steadyFor, get)
		putLat := steady(b, steadyRate, steadyFor, put)
		b.ReportMetric(percentile(getLat, 0.5), "get-p50-ms")
		b.ReportMetric(percentile(getLat, 0.99), "get-p99-ms")
		b.ReportMetric(percentile(putLat, 0.5), "put-p50-ms")
		b.ReportMetric(percentile(putLat, 0.99), "put-p99-ms")
		b.ReportMetric(closedLoop(b, 16, maxRateFor, get), "max-get-req/s")
		b.ReportMetric(closedLoop(b, 16, maxRateFor, put), "max-put-req/s")
		b.ReportMetric(float64(created.Load()), "groups-created")
	}
}

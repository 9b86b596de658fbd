package cri

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	clocktesting "k8s.io/utils/clock/testing"

	"github.com/vnode-io/vnode/internal/instances/runtime"
)

// waitWaiters returns once clk has n waiters (timers or Afters), failing
// the test after a deadline: the code under test has reached its wait.
func waitWaiters(t *testing.T, clk *clocktesting.FakeClock, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for clk.Waiters() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters on the clock, want %d", clk.Waiters(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// stopRecorder records the timeout stop was called with, once.
type stopRecorder struct {
	mu      sync.Mutex
	timeout time.Duration
	called  chan struct{}
}

func newStopRecorder() *stopRecorder { return &stopRecorder{called: make(chan struct{})} }

func (s *stopRecorder) stop(timeout time.Duration) {
	s.mu.Lock()
	s.timeout = timeout
	s.mu.Unlock()
	close(s.called)
}

func (s *stopRecorder) wait(t *testing.T) time.Duration {
	t.Helper()
	select {
	case <-s.called:
	case <-time.After(10 * time.Second):
		t.Fatal("stop was not called")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeout
}

// The preStop hook runs before the stop signal and takes the grace period
// from it; the stop gets what is left, at least MinStopGrace; a hook past
// the grace period is cancelled and the stop goes ahead; no grace, no hook.
func TestStopWithHook(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	t.Run("hook first, then what is left", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(t0)
		s := newStopRecorder()
		hookDone := make(chan struct{})
		go stopWithHook(context.Background(), clk, 30*time.Second, func(ctx context.Context) error {
			defer close(hookDone)
			select {
			case <-clk.After(12 * time.Second):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}, func(err error) { t.Errorf("failed(%v) for a hook that succeeded", err) }, s.stop)
		waitWaiters(t, clk, 2) // the grace timer and the hook's wait
		select {
		case <-s.called:
			t.Fatal("stopped before the hook ended")
		default:
		}
		clk.Step(12 * time.Second)
		<-hookDone
		if got := s.wait(t); got != 18*time.Second {
			t.Errorf("stop timeout %s, want 18s", got)
		}
	})
	t.Run("a failing hook", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(t0)
		s := newStopRecorder()
		var failedBeforeStop bool
		stopWithHook(context.Background(), clk, 30*time.Second, func(context.Context) error { return errors.New("boom") },
			func(err error) {
				select {
				case <-s.called:
				default:
					failedBeforeStop = err.Error() == "boom"
				}
			}, s.stop)
		if got := s.wait(t); got != 30*time.Second || !failedBeforeStop {
			t.Errorf("stop timeout %s, failure told before the stop: %v", got, failedBeforeStop)
		}
	})
	t.Run("a hook past the grace period", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(t0)
		s := newStopRecorder()
		cancelled := make(chan struct{})
		go stopWithHook(context.Background(), clk, 5*time.Second, func(ctx context.Context) error {
			<-ctx.Done()
			close(cancelled)
			return ctx.Err()
		}, func(err error) { t.Errorf("failed(%v) for an abandoned hook", err) }, s.stop)
		waitWaiters(t, clk, 1)
		clk.Step(5 * time.Second)
		if got := s.wait(t); got != runtime.MinStopGrace {
			t.Errorf("stop timeout %s, want the minimum %s", got, runtime.MinStopGrace)
		}
		<-cancelled
	})
	t.Run("no grace period", func(t *testing.T) {
		clk := clocktesting.NewFakeClock(t0)
		s := newStopRecorder()
		stopWithHook(context.Background(), clk, 0, func(context.Context) error {
			t.Error("the hook ran without a grace period")
			return nil
		}, func(error) {}, s.stop)
		if got := s.wait(t); got != runtime.MinStopGrace {
			t.Errorf("stop timeout %s, want %s", got, runtime.MinStopGrace)
		}
	})
}

// Exec hooks fail on an error or a non-zero exit and keep a bounded part
// of the output; sleep waits on the clock and ends with its context;
// tcpSocket fails, as on the kubelet.
func TestRunHook(t *testing.T) {
	clk := clocktesting.NewFakeClock(time.Now())
	target := hookTarget{clock: clk, exec: func(_ context.Context, cmd []string, out io.Writer) (int, error) {
		if cmd[0] == "loud" {
			for range 100 {
				_, _ = out.Write([]byte(strings.Repeat("x", 1024)))
			}
			return 3, nil
		}
		return 0, nil
	}}
	ctx := context.Background()
	if err := runHook(ctx, &runtime.Hook{Exec: []string{"true"}}, target); err != nil {
		t.Errorf("exec: %v", err)
	}
	err := runHook(ctx, &runtime.Hook{Exec: []string{"loud"}}, target)
	if err == nil || !strings.Contains(err.Error(), "exited with 3") || len(err.Error()) > hookOutputLimit+200 {
		t.Errorf("a failing exec gives %d bytes: %.200v", len(err.Error()), err)
	}
	if err := runHook(ctx, &runtime.Hook{TCPSocket: true}, target); err == nil {
		t.Error("a tcpSocket hook succeeded")
	}
	d := 10 * time.Second
	done := make(chan error, 1)
	go func() { done <- runHook(ctx, &runtime.Hook{Sleep: &d}, target) }()
	waitWaiters(t, clk, 1)
	clk.Step(d)
	if err := <-done; err != nil {
		t.Errorf("sleep: %v", err)
	}
	cut, cancel := context.WithCancel(ctx)
	go func() { done <- runHook(cut, &runtime.Hook{Sleep: &d}, target) }()
	waitWaiters(t, clk, 1)
	cancel()
	if err := <-done; err == nil {
		t.Error("a sleep cut short succeeded")
	}
}

// An httpGet hook's request leaves only through the target's dialer (the
// group's network namespace), never the service's own network or its
// proxy, to the group's IP or the hook's host; it carries the hook's
// headers as the kubelet sends them, takes any answer as success, and
// falls back from HTTPS to HTTP as the kubelet does.
func TestHTTPHook(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		if r.URL.Path == "/fail" {
			w.WriteHeader(http.StatusInternalServerError)
		}
		_, _ = w.Write([]byte(strings.Repeat("y", 1<<20)))
	}))
	defer srv.Close()
	t.Setenv("HTTP_PROXY", "http://192.0.2.1:3128") // a proxy of the service's environment must not be used
	t.Setenv("HTTPS_PROXY", "http://192.0.2.1:3128")
	var dialed []string
	target := hookTarget{ip: "192.0.2.10", clock: clocktesting.NewFakeClock(time.Now()),
		dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, srv.Listener.Addr().String())
		}}
	var fell []string
	target.fellBack = func(host string) { fell = append(fell, host) }
	ctx := context.Background()
	hooks := []*runtime.HTTPGetHook{
		{Port: 8080, Path: "/echo?msg=poststart", Headers: []runtime.HTTPHeader{{Name: "X-A", Value: "1"}, {Name: "X-A", Value: "2"},
			{Name: "Host", Value: "web.local"}}},
		{Host: "192.0.2.20", Port: 80, Path: "/fail"},
		{Host: "192.0.2.30", Port: 443, Path: "/tls", Scheme: "HTTPS"}, // the server speaks HTTP: falls back
	}
	for _, h := range hooks {
		if err := runHook(ctx, &runtime.Hook{HTTPGet: h}, target); err != nil {
			t.Errorf("%+v: %v", h, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"192.0.2.10:8080", "192.0.2.20:80", "192.0.2.30:443", "192.0.2.30:443"}; strings.Join(dialed, " ") != strings.Join(want, " ") {
		t.Errorf("dialed %q, want %q", dialed, want)
	}
	if len(got) != 3 {
		t.Fatalf("%d requests, want 3", len(got))
	}
	first := got[0]
	if first.URL.RequestURI() != "/echo?msg=poststart" || strings.Join(first.Header.Values("X-A"), ",") != "1,2" ||
		first.Host != "web.local" || first.UserAgent() != hookUserAgent || first.Header.Get("Accept") != "*/*" {
		t.Errorf("request %s %v host %q", first.URL, first.Header, first.Host)
	}
	if len(fell) != 1 || fell[0] != "192.0.2.30:443" {
		t.Errorf("fallbacks %q", fell)
	}
	refused := hookTarget{ip: "192.0.2.10", dial: func(context.Context, string, string) (net.Conn, error) {
		return nil, errors.New("refused")
	}}
	if err := runHook(ctx, &runtime.Hook{HTTPGet: &runtime.HTTPGetHook{Port: 80}}, refused); err == nil {
		t.Error("a request that could not connect succeeded")
	}
	var b limitedBuffer
	_, _ = b.Write([]byte(strings.Repeat("z", 3*hookOutputLimit)))
	if len(b.String()) != hookOutputLimit {
		t.Errorf("the buffer kept %d bytes", len(b.String()))
	}
}

// Command hello is vnode's sample web application, in the spirit of the
// aci-helloworld image used by the AKS virtual node samples.
//
// It answers GET / with a small HTML page that names the host (the container
// group) it runs on, and GET /healthz with "ok". It listens on port 80, or on
// the port named by the PORT environment variable, logs one line per request
// to standard output, and shuts down cleanly on SIGTERM or SIGINT (as PID 1 of
// a container it would otherwise ignore SIGTERM). It uses the standard library
// only and is built as a static binary by vnode's internal/images package.
package main

import (
	"context"
	"errors"
	"fmt"
	"html"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// page is the HTML of GET /; %s is the escaped hostname.
const page = `<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>Hello from vnode</title></head>
<body style="font-family: sans-serif; text-align: center; margin-top: 4em">
<h1>Welcome to your container group!</h1>
<p>This page is served by a container that vnode runs on its container instances service.</p>
<p>Host: <code>%s</code></p>
</body>
</html>
`

func main() {
	log.SetFlags(log.LstdFlags | log.LUTC)
	log.SetOutput(os.Stdout)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := run(ctx, listenAddr()); err != nil {
		log.Printf("hello: %v", err)
		os.Exit(1)
	}
}

// listenAddr is ":80" unless PORT names another port.
func listenAddr() string {
	if port := os.Getenv("PORT"); port != "" {
		return net.JoinHostPort("", port)
	}
	return ":80"
}

// run serves until ctx is cancelled, then drains open requests.
func run(ctx context.Context, addr string) error {
	srv := &http.Server{Addr: addr, Handler: logged(routes()), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("hello: listening on %s", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Printf("hello: stopped")
	return nil
}

func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", home)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	return mux
}

func home(w http.ResponseWriter, _ *http.Request) {
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "unknown"
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, page, html.EscapeString(hostname))
}

// logged writes one line per request.
func logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		next.ServeHTTP(w, r)
		log.Printf("%s %s %s %s", r.RemoteAddr, r.Method, r.URL.Path, time.Since(start).Round(time.Microsecond))
	})
}

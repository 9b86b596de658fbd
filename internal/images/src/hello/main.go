// Command hello is vnode's sample web application, in the spirit of the
// aci-helloworld image used by the AKS virtual node samples.
//
// It answers GET / with a small HTML page that names the host (the container
// group) it runs on, and GET /healthz with "ok". On the same port it speaks
// the gRPC health checking protocol over cleartext HTTP/2 (see grpcHealth),
// for gRPC probes. It listens on port 80, or on
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
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
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
	srv := newServer(addr)
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

// newServer is the program's HTTP server on addr: HTTP/1 and, for gRPC
// clients, HTTP/2 without TLS with prior knowledge.
func newServer(addr string) *http.Server {
	srv := &http.Server{Addr: addr, Handler: logged(routes()), ReadHeaderTimeout: 10 * time.Second}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv
}

func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", home)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("POST /grpc.health.v1.Health/Check", grpcHealth)
	return mux
}

// grpcHealth answers grpc.health.v1.Health/Check, the gRPC health checking
// protocol, written out by hand to keep the program on the standard
// library: the server ("") and every service not named in GRPC_NOT_SERVING
// (a comma-separated list) are SERVING, the services named there
// NOT_SERVING.
func grpcHealth(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil || len(body) < 5 || body[0] != 0 {
		w.Header().Set("Content-Type", "application/grpc")
		w.Header().Set("Grpc-Status", "3") // INVALID_ARGUMENT
		w.Header().Set("Grpc-Message", "malformed request")
		return
	}
	service := healthService(body[5:])
	status := byte(1) // SERVING
	for _, s := range strings.Split(os.Getenv("GRPC_NOT_SERVING"), ",") {
		if s != "" && s == service {
			status = 2 // NOT_SERVING
		}
	}
	w.Header().Set("Content-Type", "application/grpc")
	w.Header().Set("Trailer", "Grpc-Status")
	// One uncompressed message: HealthCheckResponse{status: status}.
	_, _ = w.Write([]byte{0, 0, 0, 0, 2, 0x08, status})
	w.Header().Set("Grpc-Status", "0")
}

// healthService reads the service field (1, a string) of a
// HealthCheckRequest; "" when it has none.
func healthService(msg []byte) string {
	for len(msg) >= 2 {
		tag, n := msg[0], int(msg[1])
		if n >= 0x80 || 2+n > len(msg) {
			return "" // longer than a probe's service name needs
		}
		if tag == 0x0a {
			return string(msg[2 : 2+n])
		}
		msg = msg[2+n:]
	}
	return ""
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

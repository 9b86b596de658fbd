package kubeletapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/vnode-io/vnode/internal/serving"
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// Listener is where the API is served, over TLS. Required.
	Listener net.Listener
	// Handler is the API, from NewHandler. Required.
	Handler http.Handler
	// CertFile and KeyFile hold the serving certificate and its key (PEM).
	// When both are empty, the certificate is requested from the cluster
	// by CSR; see CSRCertificate.
	CertFile, KeyFile string
	// CSR configures the certificate request when no files are given.
	CSR CSRConfig
	// ClientCA is the PEM bundle that client certificates must chain to;
	// without it no client certificate is asked for.
	ClientCA []byte
	// Limits bound connections and requests; zero fields take serving's
	// defaults.
	Limits serving.Limits
	// Logger receives the HTTP server's errors at debug level; nothing is
	// logged when nil.
	Logger *slog.Logger
}

// Server serves the kubelet API over HTTPS.
type Server struct {
	cfg   ServerConfig
	certs certificateSource
}

// certificateSource provides the serving certificate; Run keeps it fresh
// until ctx ends.
type certificateSource interface {
	Current() *tls.Certificate
	Run(ctx context.Context)
}

// NewServer loads or arranges the serving certificate; Run serves.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Listener == nil || cfg.Handler == nil {
		return nil, errors.New("kubeletapi: Listener and Handler are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	var certs certificateSource
	switch {
	case cfg.CertFile != "" || cfg.KeyFile != "":
		if cfg.CertFile == "" || cfg.KeyFile == "" {
			return nil, errors.New("kubeletapi: a serving certificate needs both its file and its key file")
		}
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kubeletapi: serving certificate: %w", err)
		}
		certs = staticCertificate{cert: &cert}
	default:
		m, err := NewCSRCertificate(cfg.CSR)
		if err != nil {
			return nil, err
		}
		certs = m
	}
	return &Server{cfg: cfg, certs: certs}, nil
}

// TLSConfig returns the server's TLS settings: TLS 1.2 and later with
// ECDHE AEAD suites only (what the API server's kubelet client offers),
// its certificate as it is at each handshake, client certificates verified
// against ClientCA when given, and HTTP/1.1 only, which the SPDY and
// WebSocket upgrades need.
func (s *Server) TLSConfig() (*tls.Config, error) {
	cfg := serving.TLSConfig()
	cfg.NextProtos = []string{"http/1.1"}
	cfg.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c := s.certs.Current(); c != nil {
			return c, nil
		}
		return nil, errors.New("no serving certificate yet: its CertificateSigningRequest awaits approval")
	}
	if len(s.cfg.ClientCA) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(s.cfg.ClientCA) {
			return nil, errors.New("kubeletapi: the client CA holds no PEM certificate")
		}
		cfg.ClientAuth, cfg.ClientCAs = tls.VerifyClientCertIfGiven, pool
	}
	return cfg, nil
}

// Run serves until ctx ends; requests in flight (followed logs, exec
// sessions) see ctx end, and the server waits up to 5 s for them.
func (s *Server) Run(ctx context.Context) error {
	tlsCfg, err := s.TLSConfig()
	if err != nil {
		return err
	}
	// Bodies, headers and idle connections are bounded; the streams of
	// logs, exec, attach and port-forward are not.
	srv := serving.NewServer(s.cfg.Handler, s.cfg.Limits)
	srv.TLSConfig = tlsCfg
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	// TLS handshake failures (callers without a certificate we trust,
	// probes) are routine: debug level.
	srv.ErrorLog = slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug)
	certCtx, stopCerts := context.WithCancel(ctx)
	defer stopCerts()
	go s.certs.Run(certCtx)
	served := make(chan error, 1)
	go func() { served <- srv.ServeTLS(s.cfg.Listener, "", "") }()
	select {
	case err := <-served:
		return fmt.Errorf("kubeletapi: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		_ = srv.Close()
	}
	<-served
	return nil
}

// staticCertificate is a certificate loaded from files.
type staticCertificate struct{ cert *tls.Certificate }

func (s staticCertificate) Current() *tls.Certificate { return s.cert }
func (staticCertificate) Run(context.Context)         {}

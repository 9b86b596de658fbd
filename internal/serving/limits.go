package serving

import (
	"errors"
	"io"
	"net/http"
	"time"
)

// Limits bound what one client may hold of a server. Zero fields take
// DefaultLimits' values.
type Limits struct {
	// ReadHeaderTimeout bounds the TLS handshake and a request's headers.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection that carries no request
	// for this long.
	IdleTimeout time.Duration
	// BodyTimeout bounds the wait for a request's body, from when the
	// handler starts. Requests without a body (GETs, upgrades to exec,
	// attach and port-forward streams) are not bounded: their responses
	// may stream for as long as they last.
	BodyTimeout time.Duration
	// MaxHeaderBytes bounds a request's header block.
	MaxHeaderBytes int
}

// DefaultLimits are the bounds unless told otherwise: 10 s for headers,
// 60 s of idleness, 30 s for a body and 64 KiB of headers.
func DefaultLimits() Limits {
	return Limits{ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		BodyTimeout: 30 * time.Second, MaxHeaderBytes: 64 << 10}
}

// withDefaults fills the zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.ReadHeaderTimeout <= 0 {
		l.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = d.IdleTimeout
	}
	if l.BodyTimeout <= 0 {
		l.BodyTimeout = d.BodyTimeout
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = d.MaxHeaderBytes
	}
	return l
}

// NewServer returns a server for h within l. ReadTimeout and WriteTimeout
// stay unset on purpose: they cover whole requests and responses, so they
// would cut followed logs and the exec, attach and port-forward streams;
// the body deadline of LimitBodies bounds slow uploads instead.
func NewServer(h http.Handler, l Limits) *http.Server {
	l = l.withDefaults()
	return &http.Server{
		Handler:           LimitBodies(h, l.BodyTimeout),
		ReadHeaderTimeout: l.ReadHeaderTimeout,
		IdleTimeout:       l.IdleTimeout,
		MaxHeaderBytes:    l.MaxHeaderBytes,
	}
}

// LimitBodies returns h with a deadline of d on reading each request's
// body; once the body has been read to its end, the deadline is lifted, so
// the handler's response may take as long as it needs. A body that does
// not arrive in time fails its reads with an error wrapping
// os.ErrDeadlineExceeded.
func LimitBodies(h http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d > 0 && r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
			rc := http.NewResponseController(w)
			if err := rc.SetReadDeadline(time.Now().Add(d)); err == nil {
				r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline when the body has been read.
type deadlineBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	lifted bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if errors.Is(err, io.EOF) && !b.lifted {
		b.lifted = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

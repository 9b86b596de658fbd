package imageconfig

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// errTooLarge ends the read of a response body beyond the bound.
var errTooLarge = errors.New("registry response too large")

// limitedTransport bounds the body of every response: a registry, or
// whatever an image reference names, cannot make the agent hold more.
type limitedTransport struct {
	next http.RoundTripper
	max  int64
}

// RoundTrip implements http.RoundTripper.
func (t limitedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("%w: %d bytes, at most %d are read", errTooLarge, resp.ContentLength, t.max)
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, left: t.max}
	return resp, nil
}

// limitedBody fails a read past its bound instead of truncating.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		// One byte more tells a body that ends at the bound from one
		// that goes on.
		var one [1]byte
		n, err := b.ReadCloser.Read(one[:])
		if n > 0 {
			return 0, errTooLarge
		}
		return 0, err
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	return n, err
}

// How many of a registry's error codes an error repeats, and how much of each.
const (
	maxCodes      = 4
	maxCodeLength = 40
)

// describe is err without what the registry's response said beyond its
// status and error codes: the body of an answer from whatever host an
// image reference names is not the pod's to read.
func describe(err error) error {
	var te *transport.Error
	if !errors.As(err, &te) {
		return err
	}
	msg := fmt.Sprintf("the registry answered %d %s", te.StatusCode, http.StatusText(te.StatusCode))
	if te.Request != nil {
		msg = fmt.Sprintf("%s %s://%s%s: %s", te.Request.Method, te.Request.URL.Scheme, te.Request.URL.Host, te.Request.URL.Path, msg)
	}
	var codes []string
	for _, d := range te.Errors[:min(len(te.Errors), maxCodes)] {
		code := string(d.Code)
		if len(code) > maxCodeLength {
			code = code[:maxCodeLength] + "…"
		}
		codes = append(codes, code)
	}
	if len(codes) > 0 {
		msg += " (" + strings.Join(codes, ", ") + ")"
	}
	return &registryError{msg: msg, err: te}
}

// registryError is a registry's answer, described by describe.
type registryError struct {
	msg string
	err error
}

func (e *registryError) Error() string { return e.msg }

func (e *registryError) Unwrap() error { return e.err }

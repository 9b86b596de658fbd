// Package armerr is the Azure Resource Manager error shape the container
// instances service answers with: an HTTP status plus
// {"error":{"code","message","target","details"}}. It belongs to the
// service's HTTP edge (package api): the core returns the errors of package
// errdefs, and From classifies them here, once, into an HTTP status.
package armerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
)

// Error is an ARM error response, as the HTTP edge makes it (for requests
// it refuses itself) or From classifies a core error.
type Error struct {
	// Status is the HTTP status code the error is answered with.
	Status int
	// Code is ARM's machine-readable code, such as "ResourceNotFound".
	Code string
	// Message says what is wrong in words a user can act on.
	Message string
	// Target names the offending field or resource, when there is one.
	Target string
	// Details carries further errors, for example one per invalid field.
	Details []*Error
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter time.Duration
}

// New returns an error with the given status, code and formatted message.
func New(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// WithTarget returns the error with Target set.
func (e *Error) WithTarget(target string) *Error {
	e.Target = target
	return e
}

func (e *Error) Error() string {
	if e.Target != "" {
		return fmt.Sprintf("%s (%d): %s [target %s]", e.Code, e.Status, e.Message, e.Target)
	}
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message)
}

type body struct {
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Target  string  `json:"target,omitempty"`
	Details []*body `json:"details,omitempty"`
}

func (e *Error) body() *body {
	b := &body{Code: e.Code, Message: e.Message, Target: e.Target}
	for _, d := range e.Details {
		b.Details = append(b.Details, d.body())
	}
	return b
}

// MarshalJSON renders the ARM error envelope.
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Error *body `json:"error"`
	}{e.body()})
}

// From returns err as an *Error: an *Error as it is, an error of the core
// (*errdefs.Error) with the HTTP status of its kind; anything else becomes a
// 500 InternalServerError whose message does not leak internals.
func From(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) && ae != nil {
		return ae
	}
	var ce *errdefs.Error
	if errors.As(err, &ce) && ce != nil {
		return &Error{Status: Status(ce.Kind), Code: ce.Code, Message: ce.Message, Target: ce.Target, RetryAfter: ce.RetryAfter}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "InternalServerError",
		Message: "The service encountered an internal error. Please try again later."}
}

// Status is the HTTP status ARM answers an error of kind with. As ACI
// does, a quota reached and a location out of capacity are conflicts.
func Status(kind errdefs.Kind) int {
	switch kind {
	case errdefs.Invalid:
		return http.StatusBadRequest
	case errdefs.NotFound:
		return http.StatusNotFound
	case errdefs.Conflict, errdefs.QuotaExceeded, errdefs.Unavailable:
		return http.StatusConflict
	case errdefs.Throttled:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// Write answers the request with err in ARM's shape.
func Write(w http.ResponseWriter, err error) {
	ae := From(err)
	data, _ := ae.MarshalJSON()
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("x-ms-error-code", ae.Code)
	if ae.RetryAfter > 0 {
		secs := int((ae.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.Itoa(secs))
	}
	w.WriteHeader(ae.Status)
	_, _ = w.Write(data)
}

// InvalidRequestContent reports a body that could not be read as JSON.
func InvalidRequestContent(format string, args ...any) *Error {
	return New(http.StatusBadRequest, "InvalidRequestContent", format, args...)
}

// BadRequest reports an invalid field; target names it (JSON path).
func BadRequest(code, target, format string, args ...any) *Error {
	return New(http.StatusBadRequest, code, format, args...).WithTarget(target)
}

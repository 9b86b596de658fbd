// Package errdefs defines the errors of the container instances service's
// core (packages service, validate and throttle), classified by kind, in the
// way containerd's errdefs classify its errors: the core says what went
// wrong — not found, conflict, invalid, quota exceeded, no capacity,
// throttled — with ARM's code, message and target for it, and knows
// nothing of HTTP. The edge, package api through armerr.From, turns a kind
// into an HTTP status and an error into ARM's body, in one place.
//
// A Kind is itself an error, so errors.Is(err, errdefs.NotFound) tells an
// error's kind through any wrapping.
package errdefs

import (
	"fmt"
	"time"
)

// Kind is a class of error of the core.
type Kind int

// The kinds of error of the core.
const (
	// Invalid: the request breaks a rule; it will not succeed as it is.
	Invalid Kind = iota + 1
	// NotFound: the request names something that does not exist.
	NotFound
	// Conflict: the state of what the request names forbids it now (an
	// operation in progress, a group not running, a change that cannot be
	// made in place).
	Conflict
	// QuotaExceeded: the request would take the subscription past a quota.
	QuotaExceeded
	// Unavailable: the location lacks the capacity the request needs.
	Unavailable
	// Throttled: the subscription's request budget is spent; the error's
	// RetryAfter says when to try again.
	Throttled
)

// Error implements error, so that a Kind works as a sentinel.
func (k Kind) Error() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not found"
	case Conflict:
		return "conflict"
	case QuotaExceeded:
		return "quota exceeded"
	case Unavailable:
		return "unavailable"
	case Throttled:
		return "throttled"
	}
	return fmt.Sprintf("kind %d", int(k))
}

// Error is an error of the core, with what ARM says about it: Code is
// ARM's machine-readable code (such as "ResourceNotFound"), Message says
// what is wrong in words a user can act on, and Target, when there is one,
// names the offending field (its JSON path) or resource.
type Error struct {
	Kind                  Kind
	Code, Message, Target string
	// RetryAfter, when set, is how long the client should wait before it
	// tries again.
	RetryAfter time.Duration
}

// New returns an error of kind with code and a formatted message.
func New(kind Kind, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Error says the code, the message and the target, if any.
func (e *Error) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Target != "" {
		msg += " [target " + e.Target + "]"
	}
	return msg
}

// Is reports whether target is the error's Kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(Kind)
	return ok && k == e.Kind
}

// ResourceNotFound is ARM's error for a resource of resourceType (such as
// "containerGroups") that does not exist.
func ResourceNotFound(resourceType, name, resourceGroup string) *Error {
	return New(NotFound, "ResourceNotFound",
		"The Resource 'Microsoft.ContainerInstance/%s/%s' under resource group '%s' was not found.", resourceType, name, resourceGroup)
}

// InvalidContent reports a request body that could not be read as JSON.
func InvalidContent(format string, args ...any) *Error {
	return New(Invalid, "InvalidRequestContent", format, args...)
}

// InvalidField reports an invalid field; target names it (its JSON path).
func InvalidField(code, target, format string, args ...any) *Error {
	e := New(Invalid, code, format, args...)
	e.Target = target
	return e
}

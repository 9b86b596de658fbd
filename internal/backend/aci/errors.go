package aci

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"

	"github.com/vnode-io/vnode/internal/backend"
)

// ARM error codes the backend treats specially.
const (
	codeAnotherOperation = "AnotherOperationInProgress"
	codeInvalidUpdate    = "InvalidContainerGroupUpdate"
	codeNotFound         = "ResourceNotFound"
)

// classify wraps an error of the API so the agent knows what to do with it:
// throttling, unavailability, server errors, conflicts with an operation in
// flight and network failures wrap backend.ErrRetryable; a missing group
// wraps backend.ErrNotFound; anything else (a request the service refuses)
// is final. what says which call failed.
func classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: %w", what, err)
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		switch {
		case re.StatusCode == http.StatusNotFound:
			return fmt.Errorf("%s: %w: %w", what, backend.ErrNotFound, err)
		case re.StatusCode == http.StatusTooManyRequests, re.StatusCode == http.StatusRequestTimeout,
			re.StatusCode >= http.StatusInternalServerError,
			re.StatusCode == http.StatusConflict && re.ErrorCode == codeAnotherOperation,
			re.StatusCode == http.StatusConflict && re.ErrorCode == "ServiceUnavailable",
			re.ErrorCode == "ContainerGroupQuotaReached":
			return fmt.Errorf("%s: %w: %w", what, backend.ErrRetryable, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	// Failures without a response (connection refused, TLS, timeouts)
	// are the network's: worth retrying.
	return fmt.Errorf("%s: %w: %w", what, backend.ErrRetryable, err)
}

// isNotFound reports whether err is a 404 of the API.
func isNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusNotFound
}

// errorCode returns the ARM error code of err, "" if it has none.
func errorCode(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.ErrorCode
	}
	return ""
}

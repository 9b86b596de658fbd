package armerr

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
)

func TestJSONShape(t *testing.T) {
	cases := []struct {
		name string
		err  *Error
		want string
	}{
		{
			name: "code and message only",
			err:  New(http.StatusNotFound, "ResourceNotFound", "group %q missing", "web"),
			want: `{"error":{"code":"ResourceNotFound","message":"group \"web\" missing"}}`,
		},
		{
			name: "with target",
			err:  BadRequest("InvalidThing", "properties.osType", "bad %d", 1),
			want: `{"error":{"code":"InvalidThing","message":"bad 1","target":"properties.osType"}}`,
		},
		{
			name: "with details",
			err: &Error{Status: 400, Code: "MultipleErrorsOccurred", Message: "several", Details: []*Error{
				BadRequest("A", "x", "first"),
				{Code: "B", Message: "second", Details: []*Error{{Code: "C", Message: "nested"}}},
			}},
			want: `{"error":{"code":"MultipleErrorsOccurred","message":"several","details":[` +
				`{"code":"A","message":"first","target":"x"},` +
				`{"code":"B","message":"second","details":[{"code":"C","message":"nested"}]}]}}`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, err := json.Marshal(tc.err)
			if err != nil {
				t.Fatal(err)
			}
			if string(data) != tc.want {
				t.Errorf("JSON\n got %s\nwant %s", data, tc.want)
			}
			// Status and RetryAfter never appear in the body.
			if strings.Contains(string(data), "status") || strings.Contains(string(data), "retry") {
				t.Errorf("body leaks transport fields: %s", data)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	e := New(409, "Conflict", "busy")
	if got := e.Error(); got != "Conflict (409): busy" {
		t.Errorf("Error() = %q", got)
	}
	if got := e.WithTarget("name").Error(); got != "Conflict (409): busy [target name]" {
		t.Errorf("Error() with target = %q", got)
	}
	if e.Target != "name" {
		t.Errorf("WithTarget did not set the target in place")
	}
}

func TestConstructors(t *testing.T) {
	nf := From(errdefs.ResourceNotFound("containerGroups", "web", "rg"))
	if nf.Status != 404 || nf.Code != "ResourceNotFound" ||
		nf.Message != "The Resource 'Microsoft.ContainerInstance/containerGroups/web' under resource group 'rg' was not found." {
		t.Errorf("NotFound = %+v", nf)
	}
	irc := InvalidRequestContent("bad json at %d", 3)
	if irc.Status != 400 || irc.Code != "InvalidRequestContent" || irc.Message != "bad json at 3" || irc.Target != "" {
		t.Errorf("InvalidRequestContent = %+v", irc)
	}
	br := BadRequest("Code", "a.b", "%s!", "x")
	if br.Status != 400 || br.Code != "Code" || br.Target != "a.b" || br.Message != "x!" {
		t.Errorf("BadRequest = %+v", br)
	}
}

func TestWrite(t *testing.T) {
	cases := []struct {
		name       string
		retryAfter time.Duration
		want       string // Retry-After; "" for none
	}{
		{"none", 0, ""},
		{"negative ignored", -time.Second, ""},
		{"whole seconds", 3 * time.Second, "3"},
		{"rounded up", 1500 * time.Millisecond, "2"},
		{"just over", 2*time.Second + time.Nanosecond, "3"},
		{"sub-second becomes one", time.Millisecond, "1"},
		{"one nanosecond", time.Nanosecond, "1"},
		{"minutes", 5 * time.Minute, "300"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := New(http.StatusTooManyRequests, "SubscriptionRequestsThrottled", "slow down")
			e.RetryAfter = tc.retryAfter
			rec := httptest.NewRecorder()
			Write(rec, e)
			res := rec.Result()
			if res.StatusCode != http.StatusTooManyRequests {
				t.Errorf("status %d", res.StatusCode)
			}
			if ct := res.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if code := res.Header.Get("x-ms-error-code"); code != "SubscriptionRequestsThrottled" {
				t.Errorf("x-ms-error-code %q", code)
			}
			if _, ok := res.Header["Retry-After"]; ok != (tc.want != "") || res.Header.Get("Retry-After") != tc.want {
				t.Errorf("Retry-After %q (present %v), want %q", res.Header.Get("Retry-After"), ok, tc.want)
			}
			body, _ := io.ReadAll(res.Body)
			var env struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			if err := json.Unmarshal(body, &env); err != nil {
				t.Fatalf("body %q: %v", body, err)
			}
			if env.Error.Code != e.Code || env.Error.Message != e.Message {
				t.Errorf("body %s", body)
			}
		})
	}
}

func TestWriteWrappedError(t *testing.T) {
	e := BadRequest("InvalidContainerName", "properties.containers[0].name", "bad name")
	rec := httptest.NewRecorder()
	Write(rec, fmt.Errorf("create: %w", fmt.Errorf("validate: %w", e)))
	if rec.Code != 400 || rec.Header().Get("x-ms-error-code") != "InvalidContainerName" {
		t.Errorf("status %d code %q", rec.Code, rec.Header().Get("x-ms-error-code"))
	}
	if !strings.Contains(rec.Body.String(), `"target":"properties.containers[0].name"`) {
		t.Errorf("body %s", rec.Body.String())
	}
}

func TestFromInternalError(t *testing.T) {
	secret := errors.New("open /var/lib/vnode/instances.db: permission denied (password=hunter2)")
	for _, err := range []error{secret, fmt.Errorf("wrapped: %w", secret)} {
		ae := From(err)
		if ae.Status != http.StatusInternalServerError || ae.Code != "InternalServerError" {
			t.Errorf("From(%v) = %+v", err, ae)
		}
		if strings.Contains(ae.Message, "hunter2") || strings.Contains(ae.Message, "/var/lib") || ae.Message == "" {
			t.Errorf("message %q leaks the internal error or is empty", ae.Message)
		}
		rec := httptest.NewRecorder()
		Write(rec, err)
		if rec.Code != 500 || strings.Contains(rec.Body.String(), "hunter2") {
			t.Errorf("Write: %d %s", rec.Code, rec.Body.String())
		}
		if rec.Header().Get("Retry-After") != "" {
			t.Errorf("Retry-After on an internal error")
		}
	}
}

func TestFromFindsWrappedError(t *testing.T) {
	e := New(http.StatusConflict, "AnotherOperationInProgress", "busy")
	wrapped := fmt.Errorf("outer: %w", fmt.Errorf("inner: %w", e))
	if got := From(wrapped); got != e {
		t.Errorf("From(wrapped) = %+v, want the same *Error", got)
	}
	if got := From(e); got != e {
		t.Errorf("From(e) = %+v, want e", got)
	}
	joined := errors.Join(errors.New("other"), e)
	if got := From(joined); got != e {
		t.Errorf("From(joined) = %+v, want e", got)
	}
	var ae *Error
	if !errors.As(wrapped, &ae) || ae.Code != "AnotherOperationInProgress" {
		t.Errorf("errors.As through wrapping failed: %v", ae)
	}
}

// A core error is answered with the status of its kind and keeps its code,
// message, target and retry time, through wrapping too.
func TestFromCore(t *testing.T) {
	cases := []struct {
		kind   errdefs.Kind
		status int
	}{
		{errdefs.Invalid, http.StatusBadRequest},
		{errdefs.NotFound, http.StatusNotFound},
		{errdefs.Conflict, http.StatusConflict},
		{errdefs.QuotaExceeded, http.StatusConflict},
		{errdefs.Unavailable, http.StatusConflict},
		{errdefs.Throttled, http.StatusTooManyRequests},
		{0, http.StatusInternalServerError},
	}
	for _, tc := range cases {
		ce := &errdefs.Error{Kind: tc.kind, Code: "Code", Message: "msg", Target: "a.b", RetryAfter: time.Second}
		ae := From(fmt.Errorf("context: %w", ce))
		if ae.Status != tc.status || ae.Code != "Code" || ae.Message != "msg" || ae.Target != "a.b" || ae.RetryAfter != time.Second {
			t.Errorf("From(%v of kind %v) = %+v, want status %d", ce, tc.kind, ae, tc.status)
		}
	}
}

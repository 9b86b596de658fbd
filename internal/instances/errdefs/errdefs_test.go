package errdefs

import (
	"errors"
	"fmt"
	"go/build"
	"slices"
	"strings"
	"testing"
	"time"
)

// A kind is told through wrapping, and an error is of its own kind only.
func TestKinds(t *testing.T) {
	err := fmt.Errorf("stop web: %w", New(Conflict, "ContainerGroupNotRunning", "group %q is stopped", "web"))
	if !errors.Is(err, Conflict) || errors.Is(err, NotFound) {
		t.Errorf("errors.Is on %v: conflict %v, not found %v", err, errors.Is(err, Conflict), errors.Is(err, NotFound))
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != "ContainerGroupNotRunning" || e.Message != `group "web" is stopped` {
		t.Errorf("errors.As on %v = %+v", err, e)
	}
	if got := e.Error(); got != `ContainerGroupNotRunning: group "web" is stopped` {
		t.Errorf("Error() = %q", got)
	}
	if got := InvalidField("Bad", "a.b", "bad %d", 1).Error(); got != "Bad: bad 1 [target a.b]" {
		t.Errorf("Error() with target = %q", got)
	}
	for k := Invalid; k <= Throttled; k++ {
		if s := k.Error(); s == "" || strings.HasPrefix(s, "kind ") {
			t.Errorf("kind %d has no name: %q", int(k), s)
		}
	}
	throttled := &Error{Kind: Throttled, Code: "SubscriptionRequestsThrottled", RetryAfter: time.Second}
	if !errors.Is(throttled, Throttled) {
		t.Error("a throttled error is not Throttled")
	}
}

func TestConstructors(t *testing.T) {
	nf := ResourceNotFound("containerGroups", "web", "rg")
	if nf.Kind != NotFound || nf.Code != "ResourceNotFound" ||
		nf.Message != "The Resource 'Microsoft.ContainerInstance/containerGroups/web' under resource group 'rg' was not found." {
		t.Errorf("ResourceNotFound = %+v", nf)
	}
	if ic := InvalidContent("bad json at %d", 3); ic.Kind != Invalid || ic.Code != "InvalidRequestContent" ||
		ic.Message != "bad json at 3" || ic.Target != "" {
		t.Errorf("InvalidContent = %+v", ic)
	}
	if f := InvalidField("Code", "a.b", "%s!", "x"); f.Kind != Invalid || f.Code != "Code" || f.Target != "a.b" || f.Message != "x!" {
		t.Errorf("InvalidField = %+v", f)
	}
}

// The core answers in errdefs' terms only: none of its packages imports
// HTTP or the edge's ARM errors.
func TestCoreKnowsNoHTTP(t *testing.T) {
	for _, dir := range []string{".", "../service", "../validate", "../throttle"} {
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, banned := range []string{"net/http", "github.com/vnode-io/vnode/internal/instances/armerr",
			"github.com/vnode-io/vnode/internal/instances/api"} {
			if slices.Contains(pkg.Imports, banned) {
				t.Errorf("package %s (%s) imports %s", pkg.Name, dir, banned)
			}
		}
	}
}

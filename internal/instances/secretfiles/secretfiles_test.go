package secretfiles

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckNames(t *testing.T) {
	for _, good := range []string{"config.yaml", "path/to/data-2", "a/..b", "a/b.", ".hidden", strings.Repeat("x", MaxElem)} {
		if err := CheckNames(map[string]bool{good: true}); err != nil {
			t.Errorf("%q refused: %v", good, err)
		}
	}
	for _, bad := range []string{"", ".", "..data", "..x/y", "/a", "a/", "a//b", "./a", "a/./b", "a/../b", "..",
		"a/\x00", strings.Repeat("x", MaxElem+1)} {
		err := CheckNames(map[string]bool{bad: true})
		var ne *NameError
		if !errors.As(err, &ne) || ne.Name != bad {
			t.Errorf("%q: %v, want a NameError naming it", bad, err)
		}
	}
	err := CheckNames(map[string]bool{"a": true, "a/b/c": true, "z": true})
	var ne *NameError
	if !errors.As(err, &ne) || ne.Name != "a/b/c" || !strings.Contains(ne.Problem, `"a"`) {
		t.Errorf("a file that is also a directory: %v", err)
	}
}

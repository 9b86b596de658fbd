package validate

import (
	"fmt"
	"strings"

	"github.com/vnode-io/vnode/internal/instances/errdefs"
)

// The bounds of a (init) container's command and args (vnode's addition,
// see wire.GroupExtensions): a count that keeps a hostile body from
// costing more than what a program can be given, and what Linux passes to
// one program (MAX_ARG_STRLEN: 128 KiB an argument, its NUL included;
// ARG_MAX with the usual 8 MiB stack: 2 MiB in all).
const (
	maxArgvEntries = 4096
	maxArgLength   = 128<<10 - 1
	maxArgvBytes   = 2 << 20
)

// argv checks a (init) container's command and args, which the runtime
// passes to the program that the container runs.
func argv(command, args []string, name, at string) *errdefs.Error {
	total := 0
	for _, list := range []struct {
		what   string
		values []string
	}{{"command", command}, {"args", args}} {
		if len(list.values) > maxArgvEntries {
			return errdefs.InvalidField(CodeInvalidContainerCommand, at+"."+list.what,
				"The %s of container '%s' has %d entries; at most %d are allowed.", list.what, name, len(list.values), maxArgvEntries)
		}
		for i, v := range list.values {
			entry := fmt.Sprintf("%s.%s[%d]", at, list.what, i)
			switch {
			case len(v) > maxArgLength:
				return errdefs.InvalidField(CodeInvalidContainerCommand, entry,
					"Entry %d of the %s of container '%s' has %d bytes; at most %d are allowed, as Linux passes to a program.",
					i, list.what, name, len(v), maxArgLength)
			case strings.IndexByte(v, 0) >= 0:
				return errdefs.InvalidField(CodeInvalidContainerCommand, entry,
					"Entry %d of the %s of container '%s' contains a NUL byte, which no program argument can hold.",
					i, list.what, name)
			}
			total += len(v) + 1
		}
	}
	if total > maxArgvBytes {
		return errdefs.InvalidField(CodeInvalidContainerCommand, at+".args",
			"The command and args of container '%s' have %d bytes together; at most %d are allowed, as Linux passes to a program.",
			name, total, maxArgvBytes)
	}
	return nil
}

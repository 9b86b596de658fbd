package validate

import (
	"fmt"
	"regexp"
	"strings"
)

// labelProblem says why s is not a name of shortest to longest lowercase letters,
// digits and '-' that does not start or end with '-' (and, unless
// allowDoubleHyphen, has no "--"); it returns "" for a good name. The
// phrase completes "it ...".
func labelProblem(s string, shortest, longest int, allowDoubleHyphen bool) string {
	switch {
	case s == "":
		return "is empty"
	case len(s) < shortest || len(s) > longest:
		return fmt.Sprintf("has %d characters, not %d to %d", len(s), shortest, longest)
	}
	for i := 0; i < len(s); i++ {
		if b := s[i]; !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '-') {
			return "contains characters other than lowercase letters, digits and '-'"
		}
	}
	switch {
	case s[0] == '-' || s[len(s)-1] == '-':
		return "starts or ends with '-'"
	case !allowDoubleHyphen && containsDoubleHyphen(s):
		return "contains '--'"
	}
	return ""
}

func containsDoubleHyphen(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] == '-' && s[i-1] == '-' {
			return true
		}
	}
	return false
}

// subdomainProblem says why s is not a DNS subdomain (RFC 1123) of at
// most longest characters: labels as for labelProblem (of 1 to 63
// characters) joined by '.'; "" for a good name.
func subdomainProblem(s string, longest int) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > longest {
		return fmt.Sprintf("has %d characters, more than %d", len(s), longest)
	}
	for _, label := range strings.Split(s, ".") {
		if p := labelProblem(label, 1, 63, true); p != "" {
			return fmt.Sprintf("has a label '%s' that %s", label, p)
		}
	}
	return ""
}

// containerNameProblem checks a container or init container name. ACI
// matches them against '[a-z0-9]([-a-z0-9]*[a-z0-9])?', which allows "--"
// (its own error message says so, and names such as 'single--container--aci'
// pass it).
func containerNameProblem(name string) string {
	return labelProblem(name, 1, 63, true)
}

// volumeNameProblem checks a volume name: like a container name, 5 to 63
// characters.
func volumeNameProblem(name string) string {
	return labelProblem(name, 5, 63, true)
}

// dnsLabel is ACI's rule for ipAddress.dnsNameLabel: lowercase letters,
// digits and '-', first a letter, last a letter or digit, 5 to 63 long.
var dnsLabel = regexp.MustCompile(`^[a-z][a-z0-9-]{3,61}[a-z0-9]$`)

// envName is ACI's rule for environment variable names.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

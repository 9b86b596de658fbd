package api

import (
	"net/http"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/vnode-io/vnode/internal/instances/armerr"
)

// subscriptionID is a GUID, as Azure's ids are, or a short name for a
// self-hosted service's tenants: letters, digits, '-', '_' and '.', at
// most 64, starting with a letter or digit. A GUID is such a name.
var subscriptionID = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$`)

// checkSubscriptionID refuses a subscription id that no subscription can
// have, with ARM's InvalidSubscriptionId.
func checkSubscriptionID(id string) *armerr.Error {
	if subscriptionID.MatchString(id) {
		return nil
	}
	return armerr.New(http.StatusBadRequest, "InvalidSubscriptionId",
		"The provided subscription identifier '%s' is malformed or invalid.", quoted(id))
}

// maxResourceGroupLength is ARM's bound on a resource group's name.
const maxResourceGroupLength = 90

// checkResourceGroup applies ARM's rules for resource group names: 1 to 90
// letters (Unicode), digits, '_', '-', '.', '(' and ')', not ending in a
// period. A name that breaks them is InvalidResourceGroup (400).
func checkResourceGroup(name string) *armerr.Error {
	if bad := invalidGroupChars(name); bad != "" {
		return armerr.New(http.StatusBadRequest, "InvalidResourceGroup",
			"The provided resource group name '%s' has these invalid characters: '%s'. "+
				"The name can only be a letter, digit, '-', '.', '(', ')' or '_'.", quoted(name), quoted(bad))
	}
	if n := utf8.RuneCountInString(name); n == 0 || n > maxResourceGroupLength || strings.HasSuffix(name, ".") {
		return armerr.New(http.StatusBadRequest, "InvalidResourceGroup",
			"The provided resource group name '%s' is invalid: it must be 1 to %d characters long and may not end in a period.",
			quoted(name), maxResourceGroupLength)
	}
	return nil
}

// invalidGroupChars returns the characters of name that a resource group
// name may not hold, each once.
func invalidGroupChars(name string) string {
	var bad strings.Builder
	seen := map[rune]bool{}
	for _, r := range name {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("_-.()", r) || seen[r] {
			continue
		}
		seen[r] = true
		bad.WriteRune(r)
	}
	return bad.String()
}

// maxQuoted bounds how much of a client's value an error message repeats.
const maxQuoted = 100

// quoted is s as an error message repeats it: at most maxQuoted
// characters, so that an answer never grows with what a client sent.
func quoted(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return s
	}
	r := []rune(s)
	return string(r[:maxQuoted]) + "…"
}

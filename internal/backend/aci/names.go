package aci

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// maxNameLen is the longest container group name ACI accepts.
const maxNameLen = 63

// hashLen is the length of the hash suffix of shortened names: 10 hex
// digits (40 bits) make a collision between two pods' names negligible.
const hashLen = 10

// GroupName returns the container group name of a pod: "<namespace>-<name>"
// when that is a valid ACI name (1–63 characters of [a-z0-9-], neither
// starting nor ending with '-') and the namespace holds no '-'; otherwise a
// sanitised prefix of it, '-' and a hash of the exact namespace and name.
// A '-' in the namespace would make the plain form ambiguous ("a-b"/"c" and
// "a"/"b-c"), so such pods always get the hash: no two pods share a name.
func GroupName(namespace, name string) string {
	full := namespace + "-" + name
	if plain := strings.ToLower(full); plain == full && validName(plain) && !ambiguous(namespace) {
		return plain
	}
	sum := sha256.Sum256([]byte(namespace + "/" + name))
	suffix := hex.EncodeToString(sum[:])[:hashLen]
	prefix := sanitize(full)
	if max := maxNameLen - hashLen - 1; len(prefix) > max {
		prefix = strings.TrimRight(prefix[:max], "-")
	}
	if prefix == "" {
		return "p-" + suffix
	}
	return prefix + "-" + suffix
}

// ambiguous reports whether a namespace contains '-': then "<ns>-<name>"
// could equal another pair's ("a-b"/"c" and "a"/"b-c"), so such names
// always carry the hash.
func ambiguous(namespace string) bool { return strings.Contains(namespace, "-") }

// validName reports whether s is a valid container group name.
func validName(s string) bool {
	if s == "" || len(s) > maxNameLen || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// sanitize lowercases s, turns characters ACI refuses into '-', squeezes
// runs of '-' and trims them from both ends.
func sanitize(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		ok := (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9')
		switch {
		case ok:
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

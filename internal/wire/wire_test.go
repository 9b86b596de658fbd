package wire

import (
	"slices"
	"testing"
)

// The header the service formats from the list reads back as the list.
func TestExtensionsHeaderRoundTrip(t *testing.T) {
	all := Extensions()
	if got := ParseExtensions(FormatExtensions(all)); !slices.Equal(got, all) {
		t.Errorf("ParseExtensions(FormatExtensions(%q)) = %q", all, got)
	}
	if got := FormatExtensions(all); got != "list-instance-view,exec-argv,remote-command,logs-follow,logs-previous,"+
		"stats,grace-period,tcp-socket,group-hosts,field-env,refresh-volumes,termination-message,env-names,container-args,"+
		"security-context,startup-probe,grpc-probe,volume-files,subpath-mounts,lifecycle-hooks,nested-files" {
		t.Errorf("header value %q", got)
	}
	if got := ParseExtensions(FormatExtensions(nil)); len(got) != 0 {
		t.Errorf("an empty announcement reads as %q", got)
	}
}

// A header written by hand, or repeated, reads without blanks and repeats.
func TestParseExtensions(t *testing.T) {
	got := ParseExtensions(" stats, ,exec-argv,,", "stats,logs-follow ")
	if want := []string{ExtStats, ExtExecArgv, ExtLogsFollow}; !slices.Equal(got, want) {
		t.Errorf("ParseExtensions = %q, want %q", got, want)
	}
	if got := ParseExtensions(); got != nil {
		t.Errorf("no header reads as %q", got)
	}
}

// Every extension appears once, and a caller's changes to the list do not
// reach the next caller.
func TestExtensionsList(t *testing.T) {
	all := Extensions()
	seen := map[string]bool{}
	for _, n := range all {
		if n == "" || seen[n] {
			t.Errorf("extension %q empty or repeated", n)
		}
		seen[n] = true
	}
	all[0] = "changed"
	if Extensions()[0] != ExtListInstanceView {
		t.Error("Extensions shares its slice with callers")
	}
}

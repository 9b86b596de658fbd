package aci

import (
	"strings"
	"testing"
)

func TestGroupName(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		ns, name string
		want     string // "" when only the rules are checked
	}{
		{"default", "web-0", "default-web-0"},
		{"kube-system", "x", ""},
		{"default", "my.pod", ""},
		{"default", long, ""},
		{long, long, ""},
		{"default", "-", ""},
	}
	for _, tt := range tests {
		got := GroupName(tt.ns, tt.name)
		if tt.want != "" && got != tt.want {
			t.Errorf("GroupName(%q, %q) = %q, want %q", tt.ns, tt.name, got, tt.want)
		}
		if !validName(got) {
			t.Errorf("GroupName(%q, %q) = %q breaks ACI's rules", tt.ns, tt.name, got)
		}
		if got != GroupName(tt.ns, tt.name) {
			t.Errorf("GroupName(%q, %q) is not deterministic", tt.ns, tt.name)
		}
	}
}

func TestGroupNameNoCollisions(t *testing.T) {
	pairs := [][2]string{
		{"a-b", "c"}, {"a", "b-c"}, // ambiguous joins
		{"default", strings.Repeat("x", 60) + "1"}, {"default", strings.Repeat("x", 60) + "2"}, // same prefix
		{"default", "my.pod"}, {"default", "my-pod"}, // sanitised alike
		{"default", "Web"}, {"default", "web"},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		n := GroupName(p[0], p[1])
		if prev, ok := seen[n]; ok {
			t.Errorf("%v and %v both map to %q", prev, p, n)
		}
		seen[n] = p
	}
}

func TestAciVolumeName(t *testing.T) {
	for _, tt := range []struct{ vol, dir string }{{"data", ""}, {"config", ""}, {"config", "sub/dir"},
		{strings.Repeat("v", 63), "x"}, {"abc", "a"}} {
		got := aciVolumeName(tt.vol, tt.dir)
		if !validName(got) || len(got) < 5 {
			t.Errorf("aciVolumeName(%q, %q) = %q breaks ACI's rules", tt.vol, tt.dir, got)
		}
	}
	if aciVolumeName("config", "") != "config" {
		t.Errorf("a valid volume name should be kept")
	}
	if aciVolumeName("config", "a") == aciVolumeName("config", "b") {
		t.Errorf("directories of one volume share a name")
	}
}

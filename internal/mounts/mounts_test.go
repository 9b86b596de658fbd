package mounts

import (
	"strings"
	"testing"
)

func TestParseMountPoints(t *testing.T) {
	info := []byte(`22 1 254:0 / / rw,relatime - ext4 /dev/vda rw
30 22 0:50 / /tmp/x/root/a rw - overlay overlay rw
31 22 0:51 / /tmp/x/state/with\040space rw - tmpfs shm rw
32 22 0:52 / /tmp/xy/other rw - tmpfs shm rw
33 22 0:53 / /tmp/x rw - tmpfs t rw
`)
	got := parseMountPoints(info, "/tmp/x")
	want := []string{"/tmp/x/root/a", "/tmp/x/state/with space"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("mount points %q, want %q", got, want)
	}
}

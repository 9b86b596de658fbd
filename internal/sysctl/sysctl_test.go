package sysctl

import (
	"strings"
	"testing"
)

func TestAdmit(t *testing.T) {
	for _, tc := range []struct {
		name             string
		hostNet, hostIPC bool
		want             string // "" admits
	}{
		{name: "kernel.shm_rmid_forced"},
		{name: "kernel/shm_rmid_forced"},
		{name: "net.ipv4.tcp_syncookies"},
		{name: "net/ipv4/ip_local_port_range"},
		{name: "net.ipv4.tcp_rmem", hostIPC: true},
		{name: "kernel.msgmax", want: `forbidden sysctl: "kernel.msgmax" not allowlisted`},
		{name: "kernel.shmmax", want: `"kernel.shmmax" not allowlisted`},
		{name: "net.core.somaxconn", want: "not allowlisted"},
		{name: "vm.overcommit_memory", want: "not allowlisted"},
		{name: "net.ipv4.tcp_syncookies\nkernel.msgmax", want: "not allowlisted"},
		{name: "../../kernel/core_pattern", want: "not allowlisted"},
		{name: "", want: "not allowlisted"},
		{name: "net.ipv4.tcp_syncookies", hostNet: true, want: `"net.ipv4.tcp_syncookies" not allowed with host net enabled`},
		{name: "kernel.shm_rmid_forced", hostIPC: true, want: "not allowed with host ipc enabled"},
	} {
		err := Admit(tc.name, tc.hostNet, tc.hostIPC)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("Admit(%q) = %v, want nil", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("Admit(%q) = %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"kernel.shm_rmid_forced":           "kernel.shm_rmid_forced",
		"kernel/shm_rmid_forced":           "kernel.shm_rmid_forced",
		"net/ipv4/conf/eno2.100/rp_filter": "net.ipv4.conf.eno2/100.rp_filter",
		"net.ipv4.conf.eno2/100.rp_filter": "net.ipv4.conf.eno2/100.rp_filter",
		"plain":                            "plain",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if len(Safe()) != 14 || !IsSafe("net.ipv4.tcp_wmem") || IsSafe("net/ipv4/tcp_wmem") {
		t.Errorf("safe set %q", Safe())
	}
}

func TestValueProblem(t *testing.T) {
	for v, bad := range map[string]bool{
		"1": false, "32768 60999": false, "4096\t87380\t6291456": false,
		"": true, "1\n": true, "1\x00": true, "1\r": true, "ü": true, strings.Repeat("1", MaxValueLength+1): true,
	} {
		if got := ValueProblem(v) != ""; got != bad {
			t.Errorf("ValueProblem(%q) = %q", v, ValueProblem(v))
		}
	}
}

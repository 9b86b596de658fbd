package node

import "testing"

func TestKubeletConfig(t *testing.T) {
	tests := []struct {
		name        string
		f           flags
		portChanged bool
		addr        string
		port        int32
		wantErr     bool
	}{
		{name: "defaults listen at --port", f: flags{port: 10250}, addr: ":10250", port: 10250},
		{name: "--port moves both", f: flags{port: 11250}, portChanged: true, addr: ":11250", port: 11250},
		{name: "--kubelet-addr alone advertises what it gets", f: flags{port: 10250, kubeletAddr: "127.0.0.1:0"}, addr: "127.0.0.1:0", port: 0},
		{name: "--port wins for advertising", f: flags{port: 443, kubeletAddr: ":8443"}, portChanged: true, addr: ":8443", port: 443},
		{name: "disabled", f: flags{port: 10250, noKubeletAPI: true}, port: 10250},
		{name: "bad address", f: flags{port: 10250, kubeletAddr: "nope"}, wantErr: true},
		{name: "cert without key", f: flags{port: 10250, kubeletCert: "c.pem"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, port, err := kubeletConfig(&tt.f, tt.portChanged)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error %v", err)
			}
			if !tt.wantErr && (cfg.Addr != tt.addr || port != tt.port) {
				t.Errorf("addr %q port %d; want %q %d", cfg.Addr, port, tt.addr, tt.port)
			}
		})
	}
}

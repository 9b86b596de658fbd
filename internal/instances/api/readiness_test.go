package api

import (
	"encoding/json"
	"testing"
)

func TestWithReadiness(t *testing.T) {
	in := []byte(`{"name":"g","properties":{"containers":[
		{"name":"a","properties":{"image":"x","instanceView":{"restartCount":0}}},
		{"name":"b","properties":{"image":"y","instanceView":{"restartCount":1}}},
		{"name":"c","properties":{"image":"z"}}]}}`)
	out, err := withReadiness(in, map[string]bool{"a": true})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Properties struct {
			Containers []struct {
				Name       string
				Properties struct {
					Image        string
					InstanceView *struct {
						Ready        *bool
						RestartCount int
					}
				}
			}
		}
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	cs := doc.Properties.Containers
	if *cs[0].Properties.InstanceView.Ready != true || *cs[1].Properties.InstanceView.Ready != false ||
		cs[1].Properties.InstanceView.RestartCount != 1 || cs[2].Properties.InstanceView != nil || cs[2].Properties.Image != "z" {
		t.Errorf("readiness added wrongly: %s", out)
	}
	if _, err := withReadiness([]byte("not json"), nil); err == nil {
		t.Error("a malformed group was accepted")
	}
}

package api_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/vnode-io/vnode/internal/wire"
)

// A password frame larger than a password can be is refused (close 1009)
// instead of buffered.
func TestSessionRefusesHugeFrames(t *testing.T) {
	base, hc := fuzzServer(t)
	group := base + "/subscriptions/" + fuzzSub + "/resourceGroups/" + fuzzRG +
		"/providers/Microsoft.ContainerInstance/containerGroups/ws"
	query := "?api-version=" + wire.APIVersion
	put := `{"location":"local","properties":{"osType":"Linux","containers":[{"name":"c","properties":{"image":"hello",
	 "resources":{"requests":{"cpu":1,"memoryInGB":1}}}}]}}`
	if status, _, body := call(t, hc, http.MethodPut, group+query, fuzzToken, put); status != http.StatusCreated {
		t.Fatalf("PUT: %d %s", status, body)
	}
	deadline := time.Now().Add(20 * time.Second)
	var exec struct{ WebSocketURI, Password string }
	for {
		status, _, body := call(t, hc, http.MethodPost, group+"/containers/c/exec"+query, fuzzToken,
			`{"command":"sh","terminalSize":{"rows":24,"cols":80}}`)
		if status == http.StatusOK {
			if err := json.Unmarshal(body, &exec); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("exec: %d %s", status, body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	conn, _, err := websocket.DefaultDialer.Dial(exec.WebSocketURI, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	// 8 MiB: far past the limit, far short of what would hurt.
	if err := conn.WriteMessage(websocket.TextMessage, []byte(strings.Repeat("p", 8<<20))); err != nil {
		t.Logf("write: %v (the service may close before the frame is sent)", err)
	}
	_, _, err = conn.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseMessageTooBig {
		t.Errorf("after a huge password frame: %v, want close 1009 (message too big)", err)
	}
}

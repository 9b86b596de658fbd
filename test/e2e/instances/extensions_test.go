package instances

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"

	backendaci "github.com/vnode-io/vnode/internal/backend/aci"
	"github.com/vnode-io/vnode/internal/wire"
)

// execResult is what a remote-command exec session gave.
type execResult struct {
	stdout, stderr string
	code           int
}

// execArgv runs argv in a container through vnode's exec extensions: the
// argv field of the exec request and Kubernetes' remote command protocol on
// the session URI (separate streams, exit code).
func (e *env) execArgv(name, container string, argv []string, stdin string) execResult {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"argv": argv})
	status, _, raw := e.raw(http.MethodPost, groupPath(name)+"/containers/"+container+"/exec?api-version=2023-05-01", "", bytes.NewReader(body))
	if status != http.StatusOK {
		e.t.Fatalf("exec %q: %d %s", argv, status, raw)
	}
	var res aci.ContainerExecResponse
	if err := json.Unmarshal(raw, &res); err != nil {
		e.t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	opts := remotecommand.StreamOptions{Stdout: &stdout, Stderr: &stderr}
	if stdin != "" {
		opts.Stdin = strings.NewReader(stdin)
	}
	err := backendaci.StreamSession(ctx(e.t), *res.WebSocketURI, *res.Password, e.inst.CAFile, opts)
	r := execResult{stdout: stdout.String(), stderr: stderr.String()}
	var exit utilexec.ExitError
	switch {
	case errors.As(err, &exit):
		r.code = exit.ExitStatus()
	case err != nil:
		e.t.Fatalf("exec %q: %v", argv, err)
	}
	return r
}

// followLogs reads a container's log with follow=true until the stream
// ends or until gives up; it returns what arrived and whether it ended.
func (e *env) followLogs(name, container string, until time.Duration, stopAt string) (string, bool) {
	e.t.Helper()
	c, cancel := context.WithTimeout(ctx(e.t), until)
	defer cancel()
	req, err := http.NewRequestWithContext(c, http.MethodGet,
		e.inst.URL+groupPath(name)+"/containers/"+container+"/logs?api-version=2023-05-01&follow=true", nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := e.http.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		e.t.Fatalf("follow logs: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	var out strings.Builder
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		out.WriteString(sc.Text() + "\n")
		if stopAt != "" && strings.Contains(sc.Text(), stopAt) {
			return out.String(), false
		}
	}
	return out.String(), sc.Err() == nil
}

// The extensions a virtual kubelet needs, on the fake runtime: exec with
// argv, stdin, separate stdout and stderr and the exit code; a followed log;
// a group's stats.
func TestExtensionsOnFake(t *testing.T) {
	e := newEnv(t)
	body := group("img", 1, 1)
	body.Properties.Containers[0].Properties.Command = []*string{to.Ptr("echo"), to.Ptr("hello"), to.Ptr("world")}
	e.create("ext", body)
	e.waitState("ext", "Running")

	r := e.execArgv("ext", "main", []string{"echo", "two  spaces"}, "")
	if r.stdout != "two  spaces\n" || r.code != 0 {
		t.Errorf("exec echo with argv: %+v", r)
	}
	r = e.execArgv("ext", "main", []string{"cat"}, "from stdin\n")
	if r.stdout != "from stdin\n" || r.code != 0 {
		t.Errorf("exec cat with stdin: %+v", r)
	}
	r = e.execArgv("ext", "main", []string{"no-such-command"}, "")
	if r.code == 0 || !strings.Contains(r.stderr, "not found") || r.stdout != "" {
		t.Errorf("exec of a missing command: %+v", r)
	}
	r = e.execArgv("ext", "main", []string{"exit", "5"}, "")
	if r.code != 5 {
		t.Errorf("exec exit 5: %+v", r)
	}

	// Attach over the remote command protocol; the fake echoes stdin.
	att, err := e.ctrs.Attach(ctx(t), testRG, "ext", "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	var echoed bytes.Buffer
	if err := backendaci.StreamSession(ctx(t), *att.WebSocketURI, *att.Password, e.inst.CAFile,
		remotecommand.StreamOptions{Stdin: strings.NewReader("ping\n"), Stdout: &echoed}); err != nil || echoed.String() != "ping\n" {
		t.Errorf("attach: %q, %v", echoed.String(), err)
	}
	// A session's password is checked, and a session serves once.
	res, err := e.ctrs.ExecuteCommand(ctx(t), testRG, "ext", "main", aci.ContainerExecRequest{Command: to.Ptr("echo x")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var sink bytes.Buffer
	if err := backendaci.StreamSession(ctx(t), *res.WebSocketURI, "wrong", e.inst.CAFile,
		remotecommand.StreamOptions{Stdout: &sink}); err == nil {
		t.Error("a session accepted a wrong password")
	}
	if err := backendaci.StreamSession(ctx(t), *res.WebSocketURI, *res.Password, e.inst.CAFile,
		remotecommand.StreamOptions{Stdout: &sink}); err == nil {
		t.Error("a session was used twice")
	}

	out, ended := e.followLogs("ext", "main", 30*time.Second, "hello world")
	if !strings.Contains(out, "hello world") || ended {
		t.Errorf("followed log: %q (ended %v)", out, ended)
	}

	// Logs: limitBytes, sinceTime, and previous of a container never restarted.
	logsPath := groupPath("ext") + "/containers/main/logs?api-version=2023-05-01"
	status, _, raw := e.raw(http.MethodGet, logsPath+"&limitBytes=5", "", nil)
	if status != http.StatusOK || !strings.Contains(string(raw), `"content":"conta"`) {
		t.Errorf("logs limitBytes=5: %d %s", status, raw)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	status, _, raw = e.raw(http.MethodGet, logsPath+"&sinceTime="+future, "", nil)
	if status != http.StatusOK || !strings.Contains(string(raw), `"content":""`) {
		t.Errorf("logs since an hour ahead: %d %s", status, raw)
	}
	status, _, raw = e.raw(http.MethodGet, logsPath+"&previous=true", "", nil)
	if status != http.StatusBadRequest || !strings.Contains(string(raw), "PreviousRunNotFound") {
		t.Errorf("previous log of a container never restarted: %d %s", status, raw)
	}
	for _, bad := range []string{"&limitBytes=0", "&sinceTime=yesterday", "&previous=maybe"} {
		if status, _, raw := e.raw(http.MethodGet, logsPath+bad, "", nil); status != http.StatusBadRequest {
			t.Errorf("logs%s: %d %s", bad, status, raw)
		}
	}

	// Every answer names the extensions; a list with $expand=instanceView
	// carries each group's instance view and readiness.
	listPath := "/subscriptions/" + testSub + "/resourceGroups/" + testRG +
		"/providers/Microsoft.ContainerInstance/containerGroups?api-version=2023-05-01"
	status, h, raw := e.raw(http.MethodGet, listPath+"&$expand=instanceView", "", nil)
	if ext := h.Get("X-Vnode-Extensions"); !strings.Contains(ext, "list-instance-view") || !strings.Contains(ext, "exec-argv") {
		t.Errorf("X-Vnode-Extensions = %q", ext)
	}
	var page struct {
		Value []struct {
			Name       string `json:"name"`
			Properties struct {
				InstanceView *struct{ State string } `json:"instanceView"`
				Containers   []struct {
					Properties struct {
						InstanceView *struct {
							CurrentState struct{ State string } `json:"currentState"`
							Ready        *bool                  `json:"ready"`
						} `json:"instanceView"`
					} `json:"properties"`
				} `json:"containers"`
			} `json:"properties"`
		} `json:"value"`
	}
	if err := json.Unmarshal(raw, &page); status != http.StatusOK || err != nil || len(page.Value) != 1 {
		t.Fatalf("expanded list: %d %v %s", status, err, raw)
	}
	got := page.Value[0].Properties
	if got.InstanceView == nil || got.InstanceView.State != "Running" || len(got.Containers) != 1 ||
		got.Containers[0].Properties.InstanceView == nil || got.Containers[0].Properties.InstanceView.CurrentState.State != "Running" ||
		got.Containers[0].Properties.InstanceView.Ready == nil || !*got.Containers[0].Properties.InstanceView.Ready {
		t.Errorf("expanded list item: %s", raw)
	}
	status, _, raw = e.raw(http.MethodGet, listPath, "", nil)
	if status != http.StatusOK || strings.Contains(string(raw), "instanceView") {
		t.Errorf("a plain list carries instance views (ACI's lists do not): %d %s", status, raw)
	}
	if status, _, raw := e.raw(http.MethodGet, listPath+"&$expand=everything", "", nil); status != http.StatusBadRequest {
		t.Errorf("$expand=everything: %d %s", status, raw)
	}

	status, _, raw = e.raw(http.MethodGet, groupPath("ext")+"/stats?api-version=2023-05-01", "", nil)
	var st wire.GroupStats
	if err := json.Unmarshal(raw, &st); status != http.StatusOK || err != nil || len(st.Containers) != 1 ||
		st.Containers[0].Name != "main" || st.Time.IsZero() {
		t.Errorf("stats: %d %s", status, raw)
	}
	status, _, _ = e.raw(http.MethodGet, groupPath("nope")+"/stats?api-version=2023-05-01", "", nil)
	if status != http.StatusNotFound {
		t.Errorf("stats of a missing group: %d", status)
	}
}

// A tcpSocket probe, vnode's addition, is validated, kept across a
// restart of the service and returned by PUT and GET.
func TestTCPSocketProbeKept(t *testing.T) {
	e := newEnv(t)
	body := func(probe string) string {
		return `{"location":"` + testLoc + `","properties":{"osType":"Linux","containers":[{"name":"main","properties":{` +
			`"image":"img","resources":{"requests":{"cpu":1,"memoryInGB":1}},"livenessProbe":` + probe + `}}]}}`
	}
	put := func(probe string) (int, string) {
		status, _, raw := e.raw(http.MethodPut, groupPath("tcp")+"?api-version=2023-05-01", "", strings.NewReader(body(probe)))
		return status, string(raw)
	}
	for _, bad := range []struct{ probe, code string }{
		{`{"tcpSocket":{"port":80},"exec":{"command":["true"]}}`, "InvalidContainerProbe"},
		{`{"tcpSocket":{"port":0}}`, "InvalidContainerProbe"},
		{`{"tcpSocket":{"port":"http"}}`, "InvalidRequestContent"},
	} {
		if status, raw := put(bad.probe); status != http.StatusBadRequest || !strings.Contains(raw, bad.code) {
			t.Errorf("probe %s: %d %s, want 400 %s", bad.probe, status, raw, bad.code)
		}
	}
	const tcp = `"tcpSocket":{"port":6379}`
	if status, raw := put(`{` + tcp + `,"periodSeconds":3}`); status != http.StatusCreated || !strings.Contains(raw, tcp) {
		t.Fatalf("create with a tcpSocket probe: %d %s", status, raw)
	}
	e.waitState("tcp", "Running")
	e.restart()
	_, _, raw := e.raw(http.MethodGet, groupPath("tcp")+"?api-version=2023-05-01", "", nil)
	if !strings.Contains(string(raw), tcp) || !strings.Contains(string(raw), `"periodSeconds":3`) {
		t.Errorf("GET after a restart lost the tcpSocket probe: %s", raw)
	}
	// The same body again changes nothing; another port is an update.
	status, hdr, raw := e.raw(http.MethodPut, groupPath("tcp")+"?api-version=2023-05-01", "",
		strings.NewReader(body(`{`+tcp+`,"periodSeconds":3}`)))
	if status != http.StatusOK || hdr.Get("Azure-AsyncOperation") != "" || !strings.Contains(string(raw), tcp) {
		t.Errorf("the same body again: %d %s (operation %q)", status, raw, hdr.Get("Azure-AsyncOperation"))
	}
	status, hdr, raw = e.raw(http.MethodPut, groupPath("tcp")+"?api-version=2023-05-01", "",
		strings.NewReader(body(`{"tcpSocket":{"port":6380}}`)))
	if status != http.StatusOK || hdr.Get("Azure-AsyncOperation") == "" || !strings.Contains(string(raw), `"port":6380`) {
		t.Errorf("another tcpSocket port: %d %s (operation %q)", status, raw, hdr.Get("Azure-AsyncOperation"))
	}
}

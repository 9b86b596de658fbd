package instances

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	azruntime "github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	aci "github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/containerinstance/armcontainerinstance/v2"
	"github.com/gorilla/websocket"
)

// session runs an exec or attach session the way ACI's clients do: the
// password as the first text frame, then stdin frames; it returns the
// output and the close frame.
func (e *env) session(uri, password string, stdin []string) (string, *websocket.CloseError) {
	e.t.Helper()
	pem, err := os.ReadFile(e.inst.CAFile)
	if err != nil {
		e.t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	d := websocket.Dialer{TLSClientConfig: &tls.Config{RootCAs: pool}, HandshakeTimeout: 10 * time.Second}
	conn, _, err := d.Dial(uri, nil)
	if err != nil {
		e.t.Fatalf("dial %s: %v", uri, err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	if err := conn.WriteMessage(websocket.TextMessage, []byte(password)); err != nil {
		e.t.Fatal(err)
	}
	for _, line := range stdin {
		if err := conn.WriteMessage(websocket.BinaryMessage, []byte(line)); err != nil {
			e.t.Fatal(err)
		}
	}
	var out strings.Builder
	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return out.String(), ce
			}
			e.t.Fatalf("read session output: %v (so far %q)", err, out.String())
		}
		out.Write(data)
		if len(stdin) > 0 && strings.Count(out.String(), "\n") >= len(stdin) {
			_ = conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		}
	}
}

func (e *env) exec(name, container, command string) (string, *websocket.CloseError) {
	e.t.Helper()
	res, err := e.ctrs.ExecuteCommand(ctx(e.t), testRG, name, container, aci.ContainerExecRequest{
		Command: to.Ptr(command), TerminalSize: &aci.ContainerExecRequestTerminalSize{Rows: to.Ptr[int32](24), Cols: to.Ptr[int32](80)}}, nil)
	if err != nil {
		e.t.Fatalf("exec %q: %v", command, err)
	}
	if !strings.HasPrefix(*res.WebSocketURI, "wss://") || *res.Password == "" {
		e.t.Fatalf("exec answer: uri %s", *res.WebSocketURI)
	}
	return e.session(*res.WebSocketURI, *res.Password, nil)
}

func TestLogsExecAttach(t *testing.T) {
	e := newEnv(t)
	body := group("img", 1, 1)
	body.Properties.Containers[0].Properties.Command = []*string{to.Ptr("echo"), to.Ptr("hello"), to.Ptr("world")}
	body.Properties.Containers[0].Properties.EnvironmentVariables = []*aci.EnvironmentVariable{{Name: to.Ptr("GREETING"), Value: to.Ptr("hi")}}
	e.create("shell", body)
	e.waitState("shell", "Running")

	logs, err := e.ctrs.ListLogs(ctx(t), testRG, "shell", "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(*logs.Content, "hello world") {
		t.Errorf("log content %q", *logs.Content)
	}
	tail, err := e.ctrs.ListLogs(ctx(t), testRG, "shell", "main", &aci.ContainersClientListLogsOptions{Tail: to.Ptr[int32](1), Timestamps: to.Ptr(true)})
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(*tail.Content, "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("tail=1 returned %d lines: %q", len(lines), *tail.Content)
	}
	stamp, _, _ := strings.Cut(lines[0], " ")
	if _, err := time.Parse(time.RFC3339Nano, stamp); err != nil {
		t.Errorf("timestamps=true line %q does not start with a timestamp", lines[0])
	}
	_, err = e.ctrs.ListLogs(ctx(t), testRG, "shell", "nope", nil)
	if ae := asARM(t, err); ae.Status != 404 || ae.Code != "ContainerNotFound" {
		t.Errorf("logs of a missing container: %d %s", ae.Status, ae.Code)
	}

	out, ce := e.exec("shell", "main", "echo one two")
	if out != "one two\n" || ce.Code != websocket.CloseNormalClosure || ce.Text != "exit code 0" {
		t.Errorf("exec echo: %q, close %d %q", out, ce.Code, ce.Text)
	}
	out, ce = e.exec("shell", "main", "env")
	if !strings.Contains(out, "GREETING=hi") || ce.Text != "exit code 0" {
		t.Errorf("exec env: %q, close %q", out, ce.Text)
	}
	_, ce = e.exec("shell", "main", "exit 7")
	if ce.Text != "exit code 7" {
		t.Errorf("exec exit 7 closed with %q", ce.Text)
	}

	// A wrong password is refused, and a session is single-use.
	res, err := e.ctrs.ExecuteCommand(ctx(t), testRG, "shell", "main", aci.ContainerExecRequest{Command: to.Ptr("echo x")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, ce = e.session(*res.WebSocketURI, "wrong", nil)
	if ce.Code != websocket.ClosePolicyViolation {
		t.Errorf("wrong password: close %d %q", ce.Code, ce.Text)
	}
	dialer := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // only checks the refusal
	if _, resp, err := dialer.Dial(*res.WebSocketURI, nil); err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("reusing a claimed session: err %v", err)
	}

	att, err := e.ctrs.Attach(ctx(t), testRG, "shell", "main", nil)
	if err != nil {
		t.Fatal(err)
	}
	out, _ = e.session(*att.WebSocketURI, *att.Password, []string{"ping\n"})
	if out != "ping\n" {
		t.Errorf("attach echoed %q", out)
	}

	_, err = e.groups.Stop(ctx(t), testRG, "shell", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.ctrs.ExecuteCommand(ctx(t), testRG, "shell", "main", aci.ContainerExecRequest{Command: to.Ptr("echo x")}, nil)
	if ae := asARM(t, err); ae.Status != 409 || ae.Code != "ContainerNotRunning" {
		t.Errorf("exec into a stopped group: %d %s", ae.Status, ae.Code)
	}
}

const (
	secretEnv   = "s3cr3t-env-value"
	secretReg   = "s3cr3t-registry-password"
	secretFile  = "s3cr3t-file-content"
	secretShare = "s3cr3t-share-key"
)

func secretGroup() aci.ContainerGroup {
	body := group("registry.local/app:1", 1, 1)
	p := body.Properties
	p.Containers[0].Properties.EnvironmentVariables = []*aci.EnvironmentVariable{
		{Name: to.Ptr("PLAIN"), Value: to.Ptr("visible")},
		{Name: to.Ptr("SECRET"), SecureValue: to.Ptr(secretEnv)},
	}
	p.ImageRegistryCredentials = []*aci.ImageRegistryCredential{{Server: to.Ptr("registry.local"),
		Username: to.Ptr("puller"), Password: to.Ptr(secretReg)}}
	p.Volumes = []*aci.Volume{
		{Name: to.Ptr("creds"), Secret: map[string]*string{"token": to.Ptr(base64.StdEncoding.EncodeToString([]byte(secretFile)))}},
		{Name: to.Ptr("share"), AzureFile: &aci.AzureFileVolume{ShareName: to.Ptr("data"), StorageAccountName: to.Ptr("acct"),
			StorageAccountKey: to.Ptr(secretShare)}},
	}
	p.Containers[0].Properties.VolumeMounts = []*aci.VolumeMount{
		{Name: to.Ptr("creds"), MountPath: to.Ptr("/etc/creds"), ReadOnly: to.Ptr(true)},
		{Name: to.Ptr("share"), MountPath: to.Ptr("/data")},
	}
	return body
}

func assertNoSecret(t *testing.T, where string, data []byte) {
	t.Helper()
	for _, s := range []string{secretEnv, secretReg, secretFile, secretShare,
		base64.StdEncoding.EncodeToString([]byte(secretFile))} {
		if strings.Contains(string(data), s) {
			t.Errorf("%s reveals a secret (%s)", where, s)
		}
	}
}

func TestSecretsAreWriteOnly(t *testing.T) {
	e := newEnv(t)
	var put *http.Response
	p, err := e.groups.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx(t), &put), testRG, "vault", secretGroup(), nil)
	if err != nil {
		t.Fatal(err)
	}
	putBody, err := azruntime.Payload(put)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecret(t, "the PUT response", putBody)
	if _, err := p.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	e.waitState("vault", "Running")
	status, _, body := e.raw(http.MethodGet, groupPath("vault")+"?api-version=2023-05-01", "", nil)
	if status != 200 {
		t.Fatalf("GET: %d %s", status, body)
	}
	assertNoSecret(t, "GET", body)
	if !strings.Contains(string(body), `"name":"SECRET"`) {
		t.Errorf("the secure variable's name is missing from GET: %s", body)
	}
	_, _, list := e.raw(http.MethodGet, "/subscriptions/"+testSub+"/providers/Microsoft.ContainerInstance/containerGroups?api-version=2023-05-01", "", nil)
	assertNoSecret(t, "list", list)

	// The container received them.
	out, _ := e.exec("vault", "main", "env")
	if !strings.Contains(out, "SECRET="+secretEnv) || !strings.Contains(out, "PLAIN=visible") {
		t.Errorf("container environment: %q", out)
	}
	// The database alone does not reveal them, and they survive a restart.
	e.restart()
	for _, f := range []string{"instances.db", "instances.db-wal"} {
		data, err := os.ReadFile(filepath.Join(e.cfg.DataDir, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		assertNoSecret(t, f, data)
	}
	// Redeploying after the restart needs the secrets from the store.
	if _, err := e.groups.Stop(ctx(t), testRG, "vault", nil); err != nil {
		t.Fatal(err)
	}
	sp, err := e.groups.BeginStart(ctx(t), testRG, "vault", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sp.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	e.waitState("vault", "Running")
	out, _ = e.exec("vault", "main", "env")
	if !strings.Contains(out, "SECRET="+secretEnv) {
		t.Errorf("after a restart and redeploy the container environment is %q", out)
	}
}

func TestUpdateInPlace(t *testing.T) {
	e := newEnv(t)
	body := group("img:1", 1, 1)
	body.Properties.Containers[0].Properties.EnvironmentVariables = []*aci.EnvironmentVariable{{Name: to.Ptr("V"), Value: to.Ptr("1")}}
	e.create("upd", body)
	e.waitState("upd", "Running")
	ip := *e.get("upd").Properties.IPAddress.IP

	// The same body again changes nothing and needs no operation.
	var resp *http.Response
	p, err := e.groups.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx(t), &resp), testRG, "upd", body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Azure-AsyncOperation") != "" {
		t.Errorf("identical PUT: %d, async %q", resp.StatusCode, resp.Header.Get("Azure-AsyncOperation"))
	}
	if _, err := p.PollUntilDone(ctx(t), nil); err != nil {
		t.Fatal(err)
	}

	body.Properties.Containers[0].Properties.EnvironmentVariables[0].Value = to.Ptr("2")
	body.Properties.Containers[0].Properties.Image = to.Ptr("img:2")
	p, err = e.groups.BeginCreateOrUpdate(policy.WithCaptureResponse(ctx(t), &resp), testRG, "upd", body, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Azure-AsyncOperation") == "" {
		t.Errorf("changed PUT: %d, async %q", resp.StatusCode, resp.Header.Get("Azure-AsyncOperation"))
	}
	res, err := p.PollUntilDone(ctx(t), &azruntime.PollUntilDoneOptions{Frequency: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if *res.Properties.Containers[0].Properties.Image != "img:2" {
		t.Errorf("image after update: %s", *res.Properties.Containers[0].Properties.Image)
	}
	e.waitState("upd", "Running")
	out, _ := e.exec("upd", "main", "env")
	if !strings.Contains(out, "V=2") {
		t.Errorf("environment after update: %q", out)
	}
	if got := e.get("upd"); got.Properties.IPAddress.IP == nil {
		t.Errorf("no IP after update (was %s)", ip)
	}
}

package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/cli"
	"github.com/gaia-platform/iam/internal/testkit"
)

// iamEnv is one IAM installation under test: a fresh database, a signing
// key, and the iam command run in-process against them.
type iamEnv struct {
	t       *testing.T
	dbURL   string
	keyFile string
}

func newEnv(t *testing.T) *iamEnv {
	t.Helper()
	return &iamEnv{t: t, dbURL: testkit.DatabaseURL(t), keyFile: testkit.SigningKeyFile(t)}
}

type result struct {
	code        int
	stdout, err string
}

// run executes `iam args...` with stdin and returns what it printed.
func (e *iamEnv) run(stdin string, args ...string) result {
	e.t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--database-url", e.dbURL}, args...)
	code := cli.Run(context.Background(), args, cli.IO{In: strings.NewReader(stdin), Out: &out, Err: &errb})
	return result{code: code, stdout: out.String(), err: errb.String()}
}

// must runs `iam args...` and fails the test unless it succeeds.
func (e *iamEnv) must(stdin string, args ...string) string {
	e.t.Helper()
	r := e.run(stdin, args...)
	if r.code != 0 {
		e.t.Fatalf("iam %s: exit %d: %s", strings.Join(args, " "), r.code, r.err)
	}
	return r.stdout
}

// lockedBuffer collects the server's log lines from its goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type server struct {
	url  string
	logs *lockedBuffer
}

// serve starts `iam serve` on a free port and waits until it is ready.
// The server stops when the test ends.
func (e *iamEnv) serve(extra ...string) *server {
	e.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	args := append([]string{"--database-url", e.dbURL, "serve", "--http-addr", addr}, extra...)
	if !containsFlag(extra, "--signing-key-file") {
		args = append(args, "--signing-key-file", e.keyFile)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &lockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- cli.Run(ctx, args, cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: logs}) }()
	e.t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			e.t.Errorf("iam serve exited %d: %s", code, logs.String())
		}
	})
	s := &server{url: "http://" + addr, logs: logs}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case code := <-done:
			e.t.Fatalf("iam serve exited %d before it was ready: %s", code, logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("iam serve not ready after 30s: %s", logs.String())
		}
	}
}

func containsFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (s *server) do(t *testing.T, method, path, body string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func (s *server) login(t *testing.T, username, password string) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	return s.do(t, http.MethodPost, "/auth/login", string(body), "Content-Type", "application/json")
}

// token logs in and returns the access token, failing unless login succeeds.
func (s *server) token(t *testing.T, username, password string) string {
	t.Helper()
	r := s.login(t, username, password)
	if r.status != http.StatusOK {
		t.Fatalf("login %s: %d %s", username, r.status, r.body)
	}
	tok, _ := r.json(t)["access_token"].(string)
	return tok
}

func (s *server) me(t *testing.T, token string) response {
	t.Helper()
	return s.do(t, http.MethodGet, "/auth/me", "", "Authorization", "Bearer "+token)
}

func assertError(t *testing.T, r response, status int, code string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	m := r.json(t)
	if m["error"] != code {
		t.Fatalf("error %q, want %q: %s", m["error"], code, r.body)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Fatalf("error response has no message: %s", r.body)
	}
	if len(m) != 2 {
		t.Fatalf("error response has fields beyond error and message: %s", r.body)
	}
}

const examplesSeed = "../../examples/rbac.yaml"

// withUser seeds the example RBAC and creates a user with role.
func (e *iamEnv) withUser(username, password, role string) {
	e.t.Helper()
	e.must("", "seed", "--file", examplesSeed)
	e.must(password+"\n", "user", "create", username, "--password-stdin", "--role", role)
}

func userID(t *testing.T, e *iamEnv, username string) string {
	t.Helper()
	for _, line := range strings.Split(e.must("", "user", "list"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == username {
			return f[1]
		}
	}
	t.Fatalf("user %s not in user list", username)
	return ""
}

func auditEvents(t *testing.T, e *iamEnv, action string) []map[string]any {
	t.Helper()
	out := e.must("", "audit", "list", "--action", action, "--limit", "1000")
	var events []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line is not JSON: %v: %s", err, line)
		}
		events = append(events, m)
	}
	return events
}

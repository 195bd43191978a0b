package testkit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/cli"
)

// IAM is one IAM installation under test: a fresh database, a signing key,
// and the iam command run in-process against them, as an operator would.
type IAM struct {
	t           testing.TB
	DatabaseURL string // as IAM_DATABASE_URL
	KeyFile     string
	// Clock, when set, is the clock of every command and server of the
	// installation instead of the wall clock.
	Clock *Clock
}

// Clock is a clock tests move by hand: it starts at the wall clock's time
// and stands still until Advance.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at the wall clock's time.
func NewClock() *Clock { return &Clock{t: time.Now()} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// io is a command's IO on the installation's clock.
func (e *IAM) io(in io.Reader, out, errw io.Writer) cli.IO {
	stdio := cli.IO{In: in, Out: out, Err: errw}
	if e.Clock != nil {
		stdio.Now = e.Clock.Now
	}
	return stdio
}

// EnvStore names the variable that chooses the store of NewIAM's
// installations: unset or "postgres" for a fresh PostgreSQL database
// (DatabaseURL), "sqlite" for a fresh SQLite file in the test's temporary
// directory. `make test` runs the end-to-end packages (internal/cli,
// internal/httpapi, cmd/...) once on each:
//
//	IAM_TEST_STORE=sqlite go test ./internal/cli/ ./internal/httpapi/ ./cmd/...
const EnvStore = "IAM_TEST_STORE"

// NewIAM gives t its own IAM installation, on the store IAM_TEST_STORE
// chooses.
func NewIAM(t testing.TB) *IAM {
	t.Helper()
	return &IAM{t: t, DatabaseURL: StoreURL(t), KeyFile: SigningKeyFile(t)}
}

// NewPostgresIAM is NewIAM on a fresh PostgreSQL database whatever
// IAM_TEST_STORE says, for a test of how the production store is run.
func NewPostgresIAM(t testing.TB) *IAM {
	t.Helper()
	return &IAM{t: t, DatabaseURL: DatabaseURL(t), KeyFile: SigningKeyFile(t)}
}

// NewIAMAt is NewIAM on the database at url, such as a StartPostgres
// server's.
func NewIAMAt(t testing.TB, url string) *IAM {
	t.Helper()
	return &IAM{t: t, DatabaseURL: url, KeyFile: SigningKeyFile(t)}
}

// StoreURL returns the IAM_DATABASE_URL of a new, empty database on the
// store IAM_TEST_STORE chooses.
func StoreURL(t testing.TB) string {
	t.Helper()
	switch v := os.Getenv(EnvStore); v {
	case "", "postgres":
		return DatabaseURL(t)
	case "sqlite":
		return "sqlite://" + filepath.Join(t.TempDir(), "iam.db")
	default:
		t.Fatalf("%s=%q: want postgres or sqlite", EnvStore, v)
		return ""
	}
}

// ExampleSeed is the path of examples/rbac.yaml.
var ExampleSeed = func() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "rbac.yaml")
}()

// Result is what one iam command did.
type Result struct {
	Code           int
	Stdout, Stderr string
}

// Run executes `iam args...` with stdin and returns what it printed.
func (e *IAM) Run(stdin string, args ...string) Result {
	e.t.Helper()
	var out, errb bytes.Buffer
	args = append([]string{"--database-url", e.DatabaseURL}, args...)
	code := cli.Run(context.Background(), args, e.io(strings.NewReader(stdin), &out, &errb))
	return Result{Code: code, Stdout: out.String(), Stderr: errb.String()}
}

// Must runs `iam args...` and fails the test unless it succeeds.
func (e *IAM) Must(stdin string, args ...string) string {
	e.t.Helper()
	r := e.Run(stdin, args...)
	if r.Code != 0 {
		e.t.Fatalf("iam %s: exit %d: %s", strings.Join(args, " "), r.Code, r.Stderr)
	}
	return r.Stdout
}

// WithUser applies the example seed and creates a user with role.
func (e *IAM) WithUser(username, password, role string) {
	e.t.Helper()
	e.Must("", "seed", "--file", ExampleSeed)
	e.Must(password+"\n", "user", "create", username, "--password-stdin", "--role", role)
}

// UserID reads a user's id from `iam user list`.
func (e *IAM) UserID(username string) string {
	e.t.Helper()
	for _, line := range strings.Split(e.Must("", "user", "list"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == username {
			return f[1]
		}
	}
	e.t.Fatalf("user %s not in user list", username)
	return ""
}

// AuditEvents reads the audit trail's events of one action via the CLI.
func (e *IAM) AuditEvents(action string) []map[string]any {
	e.t.Helper()
	objects, _ := e.JSONLines("audit", "list", "--action", action, "--limit", "1000")
	return objects
}

// JSONLines runs `iam args...`, which must succeed and print one JSON
// object per line, and returns the objects and what it printed.
func (e *IAM) JSONLines(args ...string) ([]map[string]any, string) {
	e.t.Helper()
	out := e.Must("", args...)
	var objects []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			e.t.Fatalf("iam %s printed a line that is not JSON: %v: %s", strings.Join(args, " "), err, line)
		}
		objects = append(objects, m)
	}
	return objects, out
}

// LockedBuffer collects a server's log lines from its goroutine.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Server is a running `iam serve`. One made of only a URL calls the IAM
// handler served there, as internal/app's test does.
type Server struct {
	URL  string
	Logs *LockedBuffer
	stop func()
}

// Serve starts `iam serve` on a port the kernel picks, with the test
// signing key unless extra names another, and waits until it is ready. It
// stops when the test ends, or earlier with Stop. The server binds the
// port itself and the harness reads it from the "listening" log line, so
// parallel tests cannot race for a port. It logs JSON (--log-format json),
// which Logs holds, unless extra names another format.
func (e *IAM) Serve(extra ...string) *Server {
	e.t.Helper()
	args := append([]string{"--database-url", e.DatabaseURL, "serve", "--http-addr", "127.0.0.1:0"}, extra...)
	if !hasFlag(extra, "--log-format") {
		args = append(args, "--log-format", "json")
	}
	if !hasFlag(extra, "--signing-key-file") {
		args = append(args, "--signing-key-file", e.KeyFile)
	}
	ctx, cancel := context.WithCancel(context.Background())
	logs := &LockedBuffer{}
	done := make(chan int, 1)
	go func() { done <- cli.Run(ctx, args, e.io(strings.NewReader(""), io.Discard, logs)) }()
	var once sync.Once
	s := &Server{Logs: logs}
	s.stop = func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != 0 {
				e.t.Errorf("iam serve exited %d: %s", code, logs.String())
			}
		})
	}
	e.t.Cleanup(s.stop)
	deadline := time.Now().Add(30 * time.Second)
	for {
		if s.URL == "" {
			if addr := listeningAddr(logs.String()); addr != "" {
				s.URL = "http://" + addr
			}
		}
		if s.URL != "" {
			resp, err := http.Get(s.URL + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return s
				}
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

// listeningAddr finds the address in the server's "listening" log line,
// a JSON or a text one.
func listeningAddr(logs string) string {
	for _, line := range strings.Split(logs, "\n") {
		var rec struct{ Msg, Addr string }
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "listening" {
			return rec.Addr
		}
		if m := textListening.FindStringSubmatch(line); m != nil {
			return m[1]
		}
	}
	return ""
}

// textListening is the "listening" line of slog's text format.
var textListening = regexp.MustCompile(`\bmsg=listening addr=(\S+)`)

// Stop shuts the server down gracefully and waits for it.
func (s *Server) Stop() { s.stop() }

func hasFlag(args []string, flag string) bool {
	for _, a := range args {
		if a == flag || strings.HasPrefix(a, flag+"=") {
			return true
		}
	}
	return false
}

// Response is one HTTP answer, read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body as a JSON object, failing the test otherwise.
func (r Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.Body)
	}
	return m
}

// Do sends one request to url with header name/value pairs.
func Do(t testing.TB, method, url, body string, header ...string) Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
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
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// Do sends one request to the server.
func (s *Server) Do(t testing.TB, method, path, body string, header ...string) Response {
	t.Helper()
	return Do(t, method, s.URL+path, body, header...)
}

// Login posts a username and password to /auth/login.
func (s *Server) Login(t testing.TB, username, password string) Response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": username, "password": password})
	return s.Do(t, http.MethodPost, "/auth/login", string(body), "Content-Type", "application/json")
}

// Token logs in and returns the access token, failing unless login succeeds.
func (s *Server) Token(t testing.TB, username, password string) string {
	t.Helper()
	r := s.Login(t, username, password)
	if r.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", username, r.Status, r.Body)
	}
	tok, _ := r.JSON(t)["access_token"].(string)
	return tok
}

// Me calls /auth/me with a bearer token.
func (s *Server) Me(t testing.TB, token string) Response {
	t.Helper()
	return s.Do(t, http.MethodGet, "/auth/me", "", "Authorization", "Bearer "+token)
}

// AssertError checks that r is status with the error body {"error": code,
// "message": <non-empty>} and nothing else.
func AssertError(t testing.TB, r Response, status int, code string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d: %s", r.Status, status, r.Body)
	}
	m := r.JSON(t)
	if m["error"] != code {
		t.Fatalf("error %q, want %q: %s", m["error"], code, r.Body)
	}
	if msg, _ := m["message"].(string); msg == "" {
		t.Fatalf("error response has no message: %s", r.Body)
	}
	if len(m) != 2 {
		t.Fatalf("error response has fields beyond error and message: %s", r.Body)
	}
}

// Eventually polls cond until it holds, failing the test when within
// passes first. Tests wait for background work this way, never by sleeping
// a fixed time and hoping.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

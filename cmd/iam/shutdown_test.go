package main_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

const (
	alicePassword = "correct horse battery staple"
	rootPassword  = "admin passphrase of some length"
)

// TestServe_SIGTERMUnderLoadDrainsAndLosesNothing runs the iam binary
// under concurrent logins and admin user creations, each of which appends
// audit rows, and sends it SIGTERM mid-load. The requests in flight are
// answered (none with a 5xx), new connections are refused, the process
// exits 0, every 2xx has its audit row and the chain verifies.
func TestServe_SIGTERMUnderLoadDrainsAndLosesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the iam binary under load")
	}
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	e.Must(rootPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	bin := filepath.Join(t.TempDir(), "iam")
	goRun(t, "../..", "build", "-o", bin, "./cmd/iam")

	// Hashing never sheds here (a 503 would be the shedding, not the
	// shutdown): the queue holds every worker and waits long.
	srv := startBinary(t, bin, "--database-url", e.DatabaseURL, "serve", "--http-addr", "127.0.0.1:0",
		"--signing-key-file", e.KeyFile, "--log-format", "json", "--shutdown-grace", "1m",
		"--hash-queue", "64", "--hash-max-wait", "5m")
	root := srv.token(t, "root", rootPassword)

	const workers = 6
	var (
		mu         sync.Mutex
		statuses   = map[int]int{}
		created    []string // ids of the users whose creation got a 2xx
		logins     int      // alice's logins that got a 2xx
		refused    int      // connection errors: the listener was closed
		afterTerm  int      // 2xx answers that arrived after SIGTERM was sent
		terminated atomic.Bool
		answered   atomic.Int64
		wg         sync.WaitGroup
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Minute}
			for i := 0; ; i++ {
				var req *http.Request
				if w%2 == 0 {
					req = jsonRequest(srv.url+"/auth/login", "", map[string]string{"username": "alice", "password": alicePassword})
				} else {
					req = jsonRequest(srv.url+"/admin/v1/users", root, map[string]any{
						"username": fmt.Sprintf("load-%d-%d", w, i), "password": "a passphrase of length", "roles": []string{"Viewer"}})
				}
				sentBeforeTerm := !terminated.Load()
				resp, err := client.Do(req)
				if err != nil {
					mu.Lock()
					refused++
					mu.Unlock()
					if terminated.Load() {
						return
					}
					t.Errorf("before SIGTERM: %v", err)
					return
				}
				var body struct{ ID string }
				_ = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				if resp.StatusCode/100 == 2 {
					if w%2 == 0 {
						logins++
					} else {
						created = append(created, body.ID)
					}
					if sentBeforeTerm && terminated.Load() {
						afterTerm++
					}
				}
				mu.Unlock()
				answered.Add(1)
			}
		}()
	}
	testkit.Eventually(t, 2*time.Minute, "the load under way", func() bool { return answered.Load() >= 3*workers })
	terminated.Store(true)
	sent := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := srv.wait(t, 2*time.Minute)
	took := time.Since(sent)
	wg.Wait()

	if code != 0 {
		t.Errorf("iam serve exited %d after SIGTERM, want 0:\n%s", code, srv.logs)
	}
	for status, n := range statuses {
		if status/100 != 2 {
			t.Errorf("%d answers with status %d, want every answer a 2xx", n, status)
		}
	}
	if afterTerm == 0 {
		t.Error("no request in flight at SIGTERM was answered: the drain was not exercised")
	}
	if refused < workers {
		t.Errorf("%d connection errors, want every worker refused once the listener closed", refused)
	}
	for _, want := range []string{`"msg":"shutting down: no new connections, waiting for the requests in flight"`,
		`"msg":"requests in flight finished"`, `"msg":"background work stopped"`} {
		if !strings.Contains(srv.logs.String(), want) {
			t.Errorf("the logs lack %s", want)
		}
	}

	// Every 2xx has its audit row, and the chain holds.
	targets := map[string]bool{}
	for _, ev := range e.AuditEvents("user.created") {
		targets[fmt.Sprint(ev["target"])] = true
	}
	for _, id := range created {
		if !targets["user:"+id] {
			t.Errorf("user %s was answered 201 but has no user.created event", id)
		}
	}
	aliceLogins := 0
	aliceID := e.UserID("alice")
	for _, ev := range e.AuditEvents("auth.login.succeeded") {
		if ev["target"] == "user:"+aliceID {
			aliceLogins++
		}
	}
	if aliceLogins < logins {
		t.Errorf("%d auth.login.succeeded events of alice, want at least the %d logins answered 200", aliceLogins, logins)
	}
	if out := e.Must("", "audit", "verify"); !strings.Contains(out, "ok") {
		t.Errorf("audit verify: %s", out)
	}
	t.Logf("SIGTERM under %d workers: %d users created, %d logins, %d answered after SIGTERM, %d refused; exit %d after %v",
		workers, len(created), logins, afterTerm, refused, code, took.Round(time.Millisecond))
}

// TestServe_SIGTERMPastTheGraceClosesWhatIsLeft gives the requests in
// flight a grace they cannot meet: their connections are closed, the exit
// is 1 with one line naming IAM_SHUTDOWN_GRACE, and what they left half
// done is rolled back (the audit chain verifies).
func TestServe_SIGTERMPastTheGraceClosesWhatIsLeft(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the iam binary under load")
	}
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	bin := filepath.Join(t.TempDir(), "iam")
	goRun(t, "../..", "build", "-o", bin, "./cmd/iam")
	// One hashing slot: the logins queue behind each other, so some are
	// always in flight, each for longer than a nanosecond.
	srv := startBinary(t, bin, "--database-url", e.DatabaseURL, "serve", "--http-addr", "127.0.0.1:0",
		"--signing-key-file", e.KeyFile, "--log-format", "json", "--shutdown-grace", "1ns",
		"--hash-concurrency", "1", "--hash-queue", "64", "--hash-max-wait", "5m")
	var answered atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Transport: &http.Transport{}, Timeout: 2 * time.Minute}
			for {
				resp, err := client.Do(jsonRequest(srv.url+"/auth/login", "", map[string]string{"username": "alice", "password": alicePassword}))
				if err != nil {
					return
				}
				resp.Body.Close()
				if resp.StatusCode >= 500 {
					t.Errorf("a login answered %d", resp.StatusCode)
				}
				answered.Add(1)
			}
		}()
	}
	testkit.Eventually(t, 2*time.Minute, "the load under way", func() bool { return answered.Load() >= 4 })
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	code := srv.wait(t, 2*time.Minute)
	wg.Wait()
	if code != 1 {
		t.Errorf("iam serve exited %d past its grace, want 1:\n%s", code, srv.logs)
	}
	last := strings.Split(strings.TrimSpace(srv.logs.String()), "\n")
	if line := last[len(last)-1]; line != "iam: requests still in flight after IAM_SHUTDOWN_GRACE 1ns: their connections were closed" {
		t.Errorf("last line on stderr %q, want the one naming IAM_SHUTDOWN_GRACE", line)
	}
	e.Must("", "audit", "verify")
}

func jsonRequest(url, bearer string, body any) *http.Request {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return req
}

// binary is an iam process the test started.
type binary struct {
	cmd    *exec.Cmd
	url    string
	logs   *testkit.LockedBuffer
	exited chan struct{}
}

// startBinary runs bin with args, which must log JSON, and returns once
// it answers /readyz. The process is killed when the test ends if it is
// still running.
func startBinary(t *testing.T, bin string, args ...string) *binary {
	t.Helper()
	b := &binary{cmd: exec.Command(bin, args...), logs: &testkit.LockedBuffer{}, exited: make(chan struct{})}
	stderr, err := b.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		select {
		case <-b.exited:
		default:
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	})
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			_, _ = b.logs.Write(append(sc.Bytes(), '\n'))
			var entry struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Msg == "listening" {
				listening <- entry.Addr
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = b.cmd.Wait()
		close(b.exited)
	}()
	select {
	case addr := <-listening:
		b.url = "http://" + addr
	case <-b.exited:
		t.Fatalf("iam exited before listening:\n%s", b.logs)
	case <-time.After(time.Minute):
		t.Fatalf("iam not listening after a minute:\n%s", b.logs)
	}
	testkit.Eventually(t, 30*time.Second, "iam ready", func() bool {
		resp, err := http.Get(b.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return b
}

// wait waits up to within for the process to exit and returns its code.
func (b *binary) wait(t *testing.T, within time.Duration) int {
	t.Helper()
	select {
	case <-b.exited:
	case <-time.After(within):
		t.Fatalf("iam still running %v after SIGTERM:\n%s", within, b.logs)
	}
	return b.cmd.ProcessState.ExitCode()
}

func (b *binary) token(t *testing.T, username, password string) string {
	t.Helper()
	resp, err := http.DefaultClient.Do(jsonRequest(b.url+"/auth/login", "", map[string]string{"username": username, "password": password}))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("login %s: %d %v", username, resp.StatusCode, err)
	}
	return body.AccessToken
}

package testkit

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// PgBouncerPoolSize is the number of server connections a StartPgBouncer
// bouncer opens to each database. It is smaller than a pgx pool's, so
// that the bouncer hands one server connection to the transactions of
// several clients in turn, as a loaded production bouncer does, and
// state a client leaves on a connection outside a transaction shows up
// in another client's.
const PgBouncerPoolSize = 2

// PgBouncer is a running pgbouncer in transaction pooling mode in front
// of the test PostgreSQL server: every database of the server, through
// one address.
type PgBouncer struct {
	Addr string // host:port
}

// StartPgBouncer starts Debian's pgbouncer in transaction pooling mode in
// front of the test server (DatabaseURL's), on a free loopback port.
// Clients authenticate to it by name (auth_type trust, the server's user
// in its auth_file), as the test server trusts them. It stops when the
// test ends, before the databases the test made before it are dropped.
// Without the binary the test is skipped, except under CI=true, where it
// fails (scripts/test-deps installs the package).
func StartPgBouncer(t testing.TB) *PgBouncer {
	t.Helper()
	bin := pgBouncerBinary(t)
	u, err := url.Parse(testServer(t))
	if err != nil {
		t.Fatal(err)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = "5432"
	}
	dir := t.TempDir()
	authFile := filepath.Join(dir, "users.txt")
	if err := os.WriteFile(authFile, []byte(fmt.Sprintf("%q \"\"\n", u.User.Username())), 0o600); err != nil {
		t.Fatal(err)
	}
	// The port is free a moment before pgbouncer binds it; another test
	// may take it in between, so a bouncer that cannot bind is retried.
	for attempt := 1; ; attempt++ {
		addr := FreeAddr(t)
		_, listenPort, _ := net.SplitHostPort(addr)
		ini := filepath.Join(dir, "pgbouncer.ini")
		config := fmt.Sprintf(`[databases]
* = host=%s port=%s

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %s
unix_socket_dir =
auth_type = trust
auth_file = %s
pool_mode = transaction
default_pool_size = %d
max_client_conn = 1000
`, host, port, listenPort, authFile, PgBouncerPoolSize)
		if err := os.WriteFile(ini, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		logs, ok := startPgBouncer(t, bin, ini, addr)
		if ok {
			return &PgBouncer{Addr: addr}
		}
		if attempt == 3 || !strings.Contains(logs, "in use") {
			t.Fatalf("pgbouncer did not start: %s", logs)
		}
	}
}

// URL is dbURL, a database of the test server, reached through the
// bouncer with pgx's default_query_exec_mode set to mode (docs/storage.md
// says which modes work behind a transaction pooler).
func (b *PgBouncer) URL(dbURL, mode string) string {
	u, err := url.Parse(dbURL)
	if err != nil {
		panic(err) // DatabaseURL made it
	}
	u.Host = b.Addr
	q := u.Query()
	q.Set("default_query_exec_mode", mode)
	u.RawQuery = q.Encode()
	return u.String()
}

// startPgBouncer runs pgbouncer on config until the test ends and waits
// until it accepts connections at addr. It reports false, with its
// output, when the process ends first.
func startPgBouncer(t testing.TB, bin, config, addr string) (string, bool) {
	t.Helper()
	var args []string
	if os.Geteuid() == 0 {
		// pgbouncer refuses to run as root; it reads its files first, then
		// drops to the user named.
		if _, err := user.Lookup("nobody"); err != nil {
			t.Fatalf("pgbouncer refuses to run as root and there is no user nobody to run it as: %v", err)
		}
		args = append(args, "-u", "nobody")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append(args, config)...)
	logs := &LockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start pgbouncer: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop := func() {
		cancel() // SIGKILL: nothing of the bouncer's needs to outlive the test
		<-exited
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			conn.Close()
			t.Cleanup(stop)
			return "", true
		}
		select {
		case <-exited:
			cancel()
			return logs.String(), false
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("pgbouncer did not listen on %s within 30s: %s", addr, logs.String())
		}
	}
}

// pgBouncerBinary finds pgbouncer on PATH or where Debian installs it,
// which is not on a user's PATH.
func pgBouncerBinary(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("pgbouncer"); err == nil {
		return p
	}
	const debian = "/usr/sbin/pgbouncer"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no pgbouncer binary under CI=true: install Debian's pgbouncer (scripts/test-deps)")
	}
	t.Skip("skipping: no pgbouncer binary (apt-get install pgbouncer, or scripts/test-deps)")
	return ""
}

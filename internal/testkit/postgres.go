package testkit

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
)

// Postgres is a PostgreSQL server of the test's own, on a port of its
// own, that the test may stop and start: never the shared one.
type Postgres struct {
	t    testing.TB
	bin  string // the directory of initdb and pg_ctl
	dir  string // the data directory
	port string
	cred *syscall.Credential
}

// StartPostgres initialises and starts a PostgreSQL server for t from
// Debian's binaries (/usr/lib/postgresql/*/bin), trusting local
// connections, stopped and removed when t ends. It runs as the postgres
// user, since PostgreSQL refuses root. Without the binaries it skips, or
// fails under CI=true.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	pgUser, err := user.Lookup("postgres")
	if len(bins) == 0 || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no PostgreSQL server binaries or postgres user to start a server of the test's own (apt-get install postgresql): %v", err)
		}
		t.Skip("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin) or postgres user")
	}
	uid, _ := strconv.Atoi(pgUser.Uid)
	gid, _ := strconv.Atoi(pgUser.Gid)
	// Not t.TempDir: its parents are root's, closed to the postgres user.
	root, err := os.MkdirTemp("", "gaia-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(FreeAddr(t))
	p := &Postgres{t: t, bin: filepath.Dir(bins[len(bins)-1]), dir: filepath.Join(root, "data"), port: port}
	if os.Geteuid() == 0 {
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	if err := os.Mkdir(p.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if p.cred != nil {
		if err := os.Chown(p.dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p.run("initdb", "-D", p.dir, "-A", "trust", "-U", "postgres", "--no-sync")
	p.Start()
	t.Cleanup(func() { _ = p.pgctl("stop", "-m", "immediate") })
	return p
}

// URL is the database URL of the server's postgres database.
func (p *Postgres) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", p.port)
}

// Start starts the server and waits until it accepts connections.
func (p *Postgres) Start() {
	p.t.Helper()
	if err := p.pgctl("start", "-w", "-t", "30", "-l", filepath.Join(p.dir, "server.log"),
		"-o", "-c listen_addresses=127.0.0.1 -c unix_socket_directories="+p.dir+" -c fsync=off -p "+p.port); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "server.log"))
		p.t.Fatalf("start PostgreSQL: %v: %s", err, log)
	}
}

// Stop stops the server at once, as a crash or a failover would: its
// connections are cut.
func (p *Postgres) Stop() {
	p.t.Helper()
	if err := p.pgctl("stop", "-w", "-m", "fast"); err != nil {
		p.t.Fatalf("stop PostgreSQL: %v", err)
	}
}

func (p *Postgres) pgctl(args ...string) error {
	return p.command("pg_ctl", append([]string{"-D", p.dir}, args...)...).Run()
}

func (p *Postgres) run(name string, args ...string) {
	p.t.Helper()
	if out, err := p.command(name, args...).CombinedOutput(); err != nil {
		p.t.Fatalf("%s: %v: %s", name, err, out)
	}
}

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(p.bin, name), args...)
	cmd.Dir = p.dir
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

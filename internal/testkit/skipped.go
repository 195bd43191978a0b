package testkit

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A plain `go test ./...` shows a passing package as one "ok" line and
// throws the rest of its output away, t.Skip messages included: cmd/go
// prints it only under -v or when the package fails, and gives a test no
// other way to speak. Without a database the PostgreSQL suites would so
// pass quietly. When DatabaseURL skips, the developer is told instead, in
// one line, once per go test run however many packages skip, outside
// cmd/go's buffering: appended to go test's output after it exits when
// that output is a pipe (`go test ./... | tail`), so that it is the last
// line; else on the terminal, /dev/tty, at once. And the run is kept out
// of the test cache, so that a re-run says it again instead of replaying
// a silent "ok".

var skipOnce sync.Once

// announceSkip tells the developer that the PostgreSQL suites are being
// skipped, and why, as described above. Only the first skip of a test
// process does anything.
func announceSkip(why error) {
	skipOnce.Do(func() {
		reason := strings.Join(strings.Fields(why.Error()), " ") // one line, whatever the error
		line := fmt.Sprintf("gaia-iam: PostgreSQL suites SKIPPED (%s): set %s=postgres://… to run them; CI=true fails instead",
			reason, EnvDatabaseURL)
		go keepOutOfTheCache(line)
		if underJSON() || !firstInThisRun() || lastLineOfGoTest(line) {
			return
		}
		if tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0); err == nil {
			fmt.Fprintln(tty, line)
			tty.Close()
		}
	})
}

// underJSON reports whether go test runs with -json: its output is a
// stream of events, which has the skips, and where a line of text is not
// welcome.
func underJSON() bool {
	v := flag.Lookup("test.v")
	return v != nil && v.Value.String() == "test2json"
}

// firstInThisRun reports whether no other test process of this go test
// run has announced the skip: go test runs each package's test binary as
// $WORK/bNNN/pkg.test and removes $WORK when it ends, so a file created
// there marks the run. A binary run otherwise always announces.
func firstInThisRun() bool {
	work := filepath.Dir(filepath.Dir(os.Args[0]))
	if !strings.HasPrefix(filepath.Base(work), "go-build") {
		return true
	}
	f, err := os.OpenFile(filepath.Join(work, "gaia-iam-postgres-skipped"), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return false
	}
	if err == nil {
		f.Close()
	}
	return true
}

// lastLineOfGoTest arranges for line to be written to go test's standard
// output once go test has exited, when that output is a pipe, and reports
// whether it did. A shell holds the pipe open until then, so whoever
// reads it (tail, tee, a pager) reaches its end only after the line. It
// needs Linux's /proc to reach the pipe; elsewhere it does nothing.
func lastLineOfGoTest(line string) bool {
	goTest := os.Getppid()
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", goTest)); err != nil || strings.TrimSpace(string(comm)) != "go" {
		return false
	}
	stdout := fmt.Sprintf("/proc/%d/fd/1", goTest)
	if info, err := os.Stat(stdout); err != nil || info.Mode()&fs.ModeNamedPipe == 0 {
		return false
	}
	pipe, err := os.OpenFile(stdout, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	defer pipe.Close()
	sh := exec.Command("/bin/sh", "-c", `while kill -0 "$GO_TEST" 2>/dev/null; do sleep 0.05; done; printf '%s\n' "$LINE" >&3`)
	sh.Env = append(os.Environ(), "GO_TEST="+strconv.Itoa(goTest), "LINE="+line)
	sh.ExtraFiles = []*os.File{pipe} // fd 3; its stdout and stderr are /dev/null
	if sh.Start() != nil {
		return false
	}
	go func() { _ = sh.Wait() }()
	return true
}

// keepOutOfTheCache keeps go test from caching this process's result:
// whether a database is reachable is an input it cannot see. It caches no
// run that opened a file inside the module changed less than 2 seconds
// before the run ended (cmd/go/internal/test's modTimeCutoff), so until
// the process exits this rewrites such a file, in the module's git-ignored
// bin/, every half second. Where the module cannot be written (a
// read-only copy) the run may be cached, as before.
func keepOutOfTheCache(line string) {
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(filepath.Dir(file), "..", "..", "bin")
	if os.MkdirAll(bin, 0o755) != nil {
		return
	}
	stamp := filepath.Join(bin, ".postgres-suites-skipped")
	for {
		if os.WriteFile(stamp, []byte(line+"\n"), 0o644) != nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
}

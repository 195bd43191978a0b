package main_test

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

// The README's runnable walkthrough: every shell block from the first heading
// up to (not including) the second, the list of the documents in docs/.
const (
	readmeFrom = "## Five-minute tour"
	readmeTo   = "## Documentation"
)

// The fixed addresses the README uses, each replaced by a free one.
const (
	readmeIAMAddr       = "127.0.0.1:8080"
	readmeInventoryAddr = "127.0.0.1:8081"
	readmeOPAAddr       = "127.0.0.1:8181"
)

const stepTimeout = 3 * time.Minute

// TestREADME_TourAndEnforcementRunAsWritten runs the README's five-minute
// tour and its enforcement walkthrough in order, in one bash session, and
// compares what each `$ command` prints with the lines under it, volatile
// values (ids, tokens, times) normalised. A ```sh block must print nothing.
//
// What differs from a newcomer's two terminals, and nothing else: the test
// starts the server (bin/iam serve, SQLite in ./data) where the README says
// `make run`; the working directory is a temporary one holding examples/
// and bundles/ (links into the module) where the README's `go` commands
// write bin/ (a shell function runs them in the module, with bin/... args
// pointing here); and 127.0.0.1:8080, :8081 and :8181 are free ports
// (EXAMPLE_HTTP_ADDR names the :8081 one, the example service's default).
func TestREADME_TourAndEnforcementRunAsWritten(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the IAM, the example service and OPA")
	}
	for _, tool := range []string{"bash", "curl", "jq", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("the README's commands need %s on PATH (curl and jq: apt-get install curl jq): %v", tool, err)
		}
	}
	module, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(module, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := readmeSteps(string(readme), readmeFrom, readmeTo)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	dir := t.TempDir()
	private := filepath.Join(dir, ".readme-test")
	for _, sub := range []string{"examples", "bundles"} {
		if err := os.Symlink(filepath.Join(module, sub), filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	serverBin := filepath.Join(private, "iam")
	goRun(t, module, "build", "-o", serverBin, "./cmd/iam")
	goRun(t, module, "tool", "-n", "opa") // builds it, so the README's first `go tool opa` starts at once

	env := readmeEnv(module)
	inventoryAddr, opaAddr := testkit.FreeAddr(t), testkit.FreeAddr(t)
	sh := startShell(t, dir, private, append(env, "EXAMPLE_HTTP_ADDR="+inventoryAddr))
	t.Cleanup(func() { dumpLogs(t, dir, private) })
	// A failing command shows as a line of output; `go` builds in the
	// module and writes bin/... here.
	if out := sh.run(t, `trap 'echo "exit status $? of: $BASH_COMMAND"' ERR
go() { command go -C "$README_TEST_MODULE" "${@/#bin\//$PWD/bin/}"; }`); out != "" {
		t.Fatalf("the session's setup printed: %s", out)
	}

	var addrs *strings.Replacer
	for _, st := range steps {
		if st.cmd == "make run" {
			iamAddr := startServer(t, serverBin, dir, private, env)
			addrs = strings.NewReplacer(readmeIAMAddr, iamAddr, readmeInventoryAddr, inventoryAddr, readmeOPAAddr, opaAddr)
			continue
		}
		if addrs == nil {
			t.Fatalf("README.md:%d: a command before `make run` starts the server: %s", st.line, st.cmd)
		}
		got := sh.run(t, addrs.Replace(st.cmd))
		if diff := compareOutput(st.want, got); diff != "" {
			kind := "$ "
			if !st.console {
				kind = "```sh block (prints nothing):\n"
			}
			t.Errorf("README.md:%d: %s%s\n%s", st.line, kind, st.cmd, diff)
		}
	}
	t.Logf("%d README steps in %v", len(steps), time.Since(start).Round(100*time.Millisecond))
}

// A step is one command of a ```console block, or a whole ```sh block.
type step struct {
	line    int
	cmd     string
	want    []string
	console bool
}

// readmeSteps returns the steps of the shell blocks between the headings
// from and to. Other blocks (```go, ```rego, ...) are not commands.
func readmeSteps(readme, from, to string) ([]step, error) {
	lines := strings.Split(readme, "\n")
	first, last := -1, -1
	for i, l := range lines {
		switch {
		case l == from && first < 0:
			first = i
		case l == to && first >= 0 && last < 0:
			last = i
		}
	}
	if first < 0 || last < 0 {
		return nil, fmt.Errorf("README.md has no section %q followed by %q: update readmeFrom/readmeTo", from, to)
	}
	var steps []step
	for i := first; i < last; i++ {
		lang, ok := strings.CutPrefix(lines[i], "```")
		if !ok {
			continue
		}
		end := i + 1
		for end < last && lines[end] != "```" {
			end++
		}
		if end == last {
			return nil, fmt.Errorf("README.md:%d: ``` block not closed before %q", i+1, to)
		}
		body := lines[i+1 : end]
		switch lang {
		case "sh", "bash", "shell":
			steps = append(steps, step{line: i + 2, cmd: strings.Join(body, "\n")})
		case "console":
			s, err := consoleSteps(body, i+2)
			if err != nil {
				return nil, err
			}
			steps = append(steps, s...)
		}
		i = end
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("README.md: no shell blocks between %q and %q", from, to)
	}
	return steps, nil
}

// consoleSteps splits a console block into `$ ` commands (a line ending
// in \ continues on the next) and the output lines under each.
func consoleSteps(body []string, line int) ([]step, error) {
	var steps []step
	for i := 0; i < len(body); i++ {
		cmd, ok := strings.CutPrefix(body[i], "$ ")
		if !ok {
			if len(steps) == 0 {
				return nil, fmt.Errorf("README.md:%d: console block output before any `$ ` command", line+i)
			}
			steps[len(steps)-1].want = append(steps[len(steps)-1].want, body[i])
			continue
		}
		st := step{line: line + i, cmd: cmd, console: true}
		for strings.HasSuffix(body[i], `\`) && i+1 < len(body) {
			i++
			st.cmd += "\n" + body[i]
		}
		steps = append(steps, st)
	}
	return steps, nil
}

// volatile are the values that differ on every run, each replaced by a
// placeholder on both sides before comparing. In the README, a value
// elided with … (eyJhbGci…) matches any value there.
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`eyJ[\w-]*\.[\w-]*\.[\w-]*`), "<jwt>"},
	{regexp.MustCompile(`\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b`), "<uuid>"},
	{regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)`), "<time>"},
	{regexp.MustCompile(`\b\d{10}\b`), "<unix time>"},
	{regexp.MustCompile(`[\w-]{40,}`), "<base64url>"}, // key ids, refresh tokens
	{regexp.MustCompile(`"id":\d+`), `"id":<n>`},      // audit event ids
}

var elided = regexp.MustCompile(`[^\s"]*…`)

func normalise(line string) string {
	for _, v := range volatile {
		line = v.re.ReplaceAllString(line, v.with)
	}
	return strings.TrimRight(line, " \t")
}

func lineMatches(want, got string) bool {
	if want == got {
		return true
	}
	parts := elided.Split(want, -1)
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`^` + strings.Join(parts, `[^\s"]*`) + `$`).MatchString(got)
}

// compareOutput returns "" when got matches the README's lines, else
// both, normalised, and the first line that differs.
func compareOutput(wantLines []string, got string) string {
	got = strings.TrimSuffix(got, "\n")
	var gotLines []string
	if got != "" {
		gotLines = strings.Split(got, "\n")
	}
	want := make([]string, len(wantLines))
	for i, l := range wantLines {
		want[i] = normalise(l)
	}
	for i, l := range gotLines {
		gotLines[i] = normalise(l)
	}
	first := -1
	for i := 0; i < max(len(want), len(gotLines)); i++ {
		if i >= len(want) || i >= len(gotLines) || !lineMatches(want[i], gotLines[i]) {
			first = i
			break
		}
	}
	if first < 0 {
		return ""
	}
	var b strings.Builder
	at := func(lines []string) string {
		if first < len(lines) {
			return lines[first]
		}
		return "(no line)"
	}
	fmt.Fprintf(&b, "output line %d differs (volatile values normalised):\n  want: %s\n  got:  %s\n", first+1, at(want), at(gotLines))
	fmt.Fprintf(&b, "want (%d lines):\n%s\ngot (%d lines):\n%s", len(want), indent(want), len(gotLines), indent(gotLines))
	return b.String()
}

func indent(lines []string) string {
	if len(lines) == 0 {
		return "  (nothing)"
	}
	return "  " + strings.Join(lines, "\n  ")
}

// shell is one bash session that runs the README's steps one at a time,
// so that functions and variables (login, jwt, TOKEN) carry over.
type shell struct {
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	markers chan string
	stderr  *bytes.Buffer
	private string
	nonce   string
	n       int
}

func startShell(t *testing.T, dir, private string, env []string) *shell {
	t.Helper()
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	s := &shell{markers: make(chan string), stderr: &bytes.Buffer{}, private: private, nonce: hex.EncodeToString(nonce)}
	s.cmd = exec.Command("bash", "--noprofile", "--norc")
	s.cmd.Dir = dir
	s.cmd.Env = env
	s.cmd.Stderr = s.stderr
	// Its own process group, so that the services the README starts in
	// the background (&) stop with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			s.markers <- sc.Text()
		}
		close(s.markers)
	}()
	t.Cleanup(func() { s.stop() })
	return s
}

// run runs command in the session and returns what it printed, stdout
// and stderr together.
func (s *shell) run(t *testing.T, command string) string {
	t.Helper()
	s.n++
	out := filepath.Join(s.private, fmt.Sprintf("step%03d.out", s.n))
	marker := "readme-test-done-" + s.nonce
	if _, err := fmt.Fprintf(s.stdin, "{\n%s\n} >%s 2>&1 </dev/null\necho %s\n", command, shellQuote(out), marker); err != nil {
		t.Fatalf("bash exited: %v\n%s", err, s.stderr)
	}
	timeout := time.After(stepTimeout)
	for {
		select {
		case line, ok := <-s.markers:
			if !ok {
				t.Fatalf("bash exited running:\n%s\n%s", command, s.stderr)
			}
			if line != marker {
				continue
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		case <-timeout:
			b, _ := os.ReadFile(out)
			t.Fatalf("still running after %v:\n%s\noutput so far:\n%s", stepTimeout, command, b)
		}
	}
}

// stop ends the session and everything it started in the background.
func (s *shell) stop() {
	_ = s.stdin.Close()
	pgid := s.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	_ = s.cmd.Wait()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if errors.Is(syscall.Kill(-pgid, 0), syscall.ESRCH) {
			return
		}
	}
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// startServer runs `iam serve` in dir, as `make run` would there, on a
// free port, and returns its address once it listens.
func startServer(t *testing.T, bin, dir, private string, env []string) string {
	t.Helper()
	log, err := os.Create(filepath.Join(private, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	cmd.Env = append(env, "IAM_HTTP_ADDR=127.0.0.1:0", "IAM_LOG_FORMAT=json")
	cmd.Stdout = log
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = log.Close()
	})
	listening := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_, _ = log.Write(append(sc.Bytes(), '\n'))
			var entry struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &entry) == nil && entry.Msg == "listening" {
				select {
				case listening <- entry.Addr:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	select {
	case addr := <-listening:
		return addr
	case <-exited:
		b, _ := os.ReadFile(log.Name())
		t.Fatalf("iam serve exited before listening:\n%s", b)
	case <-time.After(time.Minute):
		t.Fatal("iam serve not listening after a minute")
	}
	return ""
}

// readmeEnv is the test's environment without the variables the README's
// commands read, so that they run on their defaults as in a fresh shell.
func readmeEnv(module string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "IAM_") || strings.HasPrefix(name, "GAIA_") || strings.HasPrefix(name, "EXAMPLE_") ||
			name == "BASH_ENV" || name == "ENV" || name == "TOKEN" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "README_TEST_MODULE="+module)
}

func goRun(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// dumpLogs shows, after a failure, the end of every log the walkthrough
// wrote: the server's and those of the services it started.
func dumpLogs(t *testing.T, dir, private string) {
	if !t.Failed() {
		return
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	more, _ := filepath.Glob(filepath.Join(private, "*.log"))
	for _, name := range append(logs, more...) {
		b, _ := os.ReadFile(name)
		lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		t.Logf("%s (last %d lines):\n%s", name, min(len(lines), 15), strings.Join(lines[max(0, len(lines)-15):], "\n"))
	}
}

// TestDocs_EveryRelativeLinkResolves checks the links of the README and of
// docs/: every relative link names a file that exists and, with a
// #fragment, a heading of that Markdown file (GitHub's anchor of it).
func TestDocs_EveryRelativeLinkResolves(t *testing.T) {
	module, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob(filepath.Join(module, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	links := 0
	for _, file := range append([]string{filepath.Join(module, "README.md")}, docs...) {
		for _, l := range markdownLinks(t, file) {
			links++
			path, fragment, _ := strings.Cut(l.target, "#")
			target := file
			if path != "" {
				target = filepath.Join(filepath.Dir(file), path)
			}
			rel, _ := filepath.Rel(module, file)
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s:%d: link %s: no such file", rel, l.line, l.target)
				continue
			}
			if fragment != "" && !slices.Contains(headingAnchors(t, target), fragment) {
				t.Errorf("%s:%d: link %s: no such heading in %s", rel, l.line, l.target, filepath.Base(target))
			}
		}
	}
	if links < 20 {
		t.Fatalf("%d relative links in the README and docs/, want the links between them", links)
	}
}

type markdownLink struct {
	line   int
	target string
}

var (
	linkTarget = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	external   = regexp.MustCompile(`^[a-z]+:`)
	fence      = regexp.MustCompile("^\\s*```")
	heading    = regexp.MustCompile(`^#+ (.*)$`)
	notInSlug  = regexp.MustCompile(`[^\p{L}\p{N}_\- ]`)
)

// markdownLines returns file's lines outside code blocks, by line number
// (those inside are empty).
func markdownLines(t *testing.T, file string) []string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	code := false
	for i, l := range lines {
		if fence.MatchString(l) {
			code = !code
		}
		if code || fence.MatchString(l) {
			lines[i] = ""
		}
	}
	return lines
}

// markdownLinks returns file's relative links.
func markdownLinks(t *testing.T, file string) []markdownLink {
	t.Helper()
	var out []markdownLink
	for i, l := range markdownLines(t, file) {
		for _, m := range linkTarget.FindAllStringSubmatch(l, -1) {
			if !external.MatchString(m[1]) {
				out = append(out, markdownLink{line: i + 1, target: m[1]})
			}
		}
	}
	return out
}

// headingAnchors returns the anchors GitHub gives file's headings.
func headingAnchors(t *testing.T, file string) []string {
	t.Helper()
	var out []string
	for _, l := range markdownLines(t, file) {
		if m := heading.FindStringSubmatch(l); m != nil {
			slug := notInSlug.ReplaceAllString(strings.ToLower(strings.TrimSpace(m[1])), "")
			out = append(out, strings.ReplaceAll(slug, " ", "-"))
		}
	}
	return out
}

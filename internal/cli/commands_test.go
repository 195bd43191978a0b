package cli_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gaia-platform/iam/internal/cli"
	"github.com/gaia-platform/iam/internal/testkit"
)

func TestCreateSuperuser_GetsTheIAMAdminRole(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("s3cret-admin-pw\n", "createsuperuser", "--username", "root", "--password-stdin")
	srv := e.Serve()
	tok, err := jwt.ParseString(srv.Token(t, "root", "s3cret-admin-pw"), jwt.WithVerify(false))
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := tok.Get("roles")
	perms, _ := tok.Get("permissions")
	testkit.AssertStrings(t, "roles", roles, "iam-admin")
	testkit.AssertStrings(t, "permissions", perms, "iam.audit.read", "iam.roles.write", "iam.users.read", "iam.users.write")

	r := e.Run("other-password\n", "createsuperuser", "--username", "ROOT", "--password-stdin")
	assertFails(t, r, "already taken")
}

func TestUserCreate_RefusesPasswordWithoutStdinOrTerminal(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	assertFails(t, e.Run("", "user", "create", "carol"), "--password-stdin")
	assertFails(t, e.Run("short\n", "user", "create", "carol", "--password-stdin"), "12 to 1024")
	// Twelve characters, some of them two bytes long: too short at 11.
	assertFails(t, e.Run("ééééééééééé\n", "user", "create", "carol", "--password-stdin"), "12 to 1024")
	assertFails(t, e.Run("my name is CAROL!\n", "user", "create", "carol", "--password-stdin"), "must not contain the username")
	r := e.Run("QwertyUiop123\n", "user", "create", "carol", "--password-stdin")
	assertFails(t, r, "commonly used")
	if strings.Contains(strings.ToLower(r.Stderr), "qwertyuiop123") {
		t.Errorf("the error repeats the password: %s", r.Stderr)
	}
	assertFails(t, e.Run("long enough pw\n", "user", "create", "carol", "--password-stdin", "--role", "Nope"), `unknown role: "Nope"`)
	assertFails(t, e.Run("long enough pw\n", "user", "create", "bad name", "--password-stdin"), "invalid username")
	if out := e.Must("", "user", "list"); strings.Contains(out, "carol") {
		t.Fatalf("a failed create left a user behind:\n%s", out)
	}
	assertFails(t, e.Run("", "user", "disable", "ghost"), `user not found: "ghost"`)
}

func TestRoleChanges_AreAuditedOnceAndIdempotent(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	e.Must("", "role", "grant", "Viewer", "analytics.report.view")
	if out := e.Must("", "role", "grant", "viewer", "analytics.report.view"); !strings.HasPrefix(out, "nothing to do") {
		t.Fatalf("second grant: %q", out)
	}
	if n := len(e.AuditEvents("role.permission.granted")); n != 6+1 { // 6 from the seed, 1 here
		t.Fatalf("%d grant events, want 7", n)
	}
	e.Must("", "role", "revoke", "Viewer", "analytics.report.view")
	assertFails(t, e.Run("", "role", "grant", "Viewer", "inventory.delete"), `unknown permission: "inventory.delete"`)
	assertFails(t, e.Run("", "role", "grant", "Ghost", "inventory.read"), `unknown role: "Ghost"`)
	assertFails(t, e.Run("", "role", "revoke", "iam-admin", "iam.users.read"), "built-in")
	list := e.Must("", "role", "list")
	if !strings.Contains(list, "Viewer") || strings.Contains(list, "inventory.delete") {
		t.Fatalf("role list:\n%s", list)
	}
}

func TestSeed_IsIdempotentAndAllOrNothing(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	if out := e.Must("", "seed", "--file", testkit.ExampleSeed); !strings.Contains(out, "seed applied: 12 changes") {
		t.Fatalf("first seed: %s", out)
	}
	if out := e.Must("", "seed", "--file", testkit.ExampleSeed); strings.TrimSpace(out) != "seed applied: 0 changes" {
		t.Fatalf("second seed changed something: %s", out)
	}
	bad := testkit.WriteFile(t, "bad.yaml", `
permissions:
  - code: billing.read
roles:
  - name: Billing
    permissions: [billing.read, billing.wirte]
`)
	before := e.Must("", "role", "list")
	assertFails(t, e.Run("", "seed", "--file", bad), `unknown permission: "billing.wirte"`)
	if after := e.Must("", "role", "list"); after != before {
		t.Fatalf("a failed seed changed roles:\n%s", after)
	}
	assertFails(t, e.Run("", "seed", "--file", testkit.WriteFile(t, "typo.yaml", "rolez: []\n")), "field rolez not found")
	assertFails(t, e.Run("", "seed", "--file", testkit.WriteFile(t, "code.yaml", "permissions: [{code: Inventory}]\n")), "invalid permission code")
	assertFails(t, e.Run("", "seed", "--file", filepath.Join(t.TempDir(), "missing.yaml")), "no such file")
}

func TestServe_InvalidConfigurationNamesTheVariable(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	dir := t.TempDir()
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	weakFile := testkit.WriteFile(t, "weak.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weak)})))
	ecFile := testkit.WriteFile(t, "ec.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})))
	garbage := testkit.WriteFile(t, "garbage.pem", "hello")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--access-token-ttl", "fifteen"}, "IAM_ACCESS_TOKEN_TTL"},
		{[]string{"--access-token-ttl", "-5m"}, "IAM_ACCESS_TOKEN_TTL"},
		{[]string{"--http-addr", "nonsense"}, "IAM_HTTP_ADDR"},
		{[]string{"--signing-key-file", filepath.Join(dir, "absent.pem")}, "IAM_SIGNING_KEY_FILE"},
		{[]string{"--signing-key-file", weakFile}, "shorter than 2048 bits"},
		{[]string{"--signing-key-file", ecFile}, "not RSA"},
		{[]string{"--signing-key-file", garbage}, "IAM_SIGNING_KEY_FILE"},
	}
	for _, c := range cases {
		r := e.Run("", append([]string{"serve", "--http-addr", "127.0.0.1:0"}, c.args...)...)
		if c.args[0] == "--http-addr" {
			r = e.Run("", append([]string{"serve"}, c.args...)...)
		}
		assertFails(t, r, c.want)
	}
}

// With IAM_DATABASE_URL unset every command uses the embedded SQLite
// database in IAM_DATA_DIR, creating the directory (0700) and the file.
func TestCommands_UnsetDatabaseURLUsesSQLiteInTheDataDir(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	t.Setenv("IAM_DATABASE_URL", "")
	t.Setenv("IAM_DATA_DIR", dataDir)
	run := func(stdin string, args ...string) testkit.Result {
		var out, errb strings.Builder
		code := cli.Run(context.Background(), args, cli.IO{In: strings.NewReader(stdin), Out: &out, Err: &errb})
		return testkit.Result{Code: code, Stdout: out.String(), Stderr: errb.String()}
	}
	if r := run("", "user", "list"); r.Code != 0 || r.Stderr != "" {
		t.Fatalf("user list: exit %d, stderr %q; want 0 and nothing on stderr", r.Code, r.Stderr)
	}
	info, err := os.Stat(dataDir)
	if err != nil {
		t.Fatalf("data dir: %v", err)
	}
	if perm := info.Mode().Perm(); perm != 0o700 {
		t.Errorf("data dir mode %v, want 0700", perm)
	}
	if _, err := os.Stat(filepath.Join(dataDir, "iam.db")); err != nil {
		t.Fatalf("iam.db in the data dir: %v", err)
	}
	if r := run("long enough pw\n", "user", "create", "carol", "--password-stdin"); r.Code != 0 {
		t.Fatalf("user create: exit %d: %s", r.Code, r.Stderr)
	}
	if r := run("", "user", "list"); !strings.Contains(r.Stdout, "carol") {
		t.Fatalf("user list after create: %q", r.Stdout)
	}
}

func TestCommands_BadOrUnreachableDatabaseIsOneLine(t *testing.T) {
	run := func(args ...string) testkit.Result {
		var out, errb strings.Builder
		code := cli.Run(context.Background(), args, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
		return testkit.Result{Code: code, Stderr: errb.String()}
	}
	for _, url := range []string{"mysql://gaia:hunter2-secret@127.0.0.1/gaia", "host=127.0.0.1 password=hunter2-secret", "sqlite://", "sqlite:///tmp/iam.db?mode=ro"} {
		r := run("--database-url", url, "user", "list")
		assertFails(t, r, "IAM_DATABASE_URL")
		if strings.Contains(r.Stderr, "hunter2") {
			t.Fatalf("the database password reached the error: %s", r.Stderr)
		}
	}
	r := run("--database-url", "sqlite://"+filepath.Join(t.TempDir(), "absent", "iam.db"), "user", "list")
	assertFails(t, r, "absent")

	url := "postgres://gaia:hunter2-secret@127.0.0.1:1/gaia?connect_timeout=2"
	r = run("--database-url", url, "serve")
	assertFails(t, r, "unreachable")
	if strings.Contains(r.Stderr, "hunter2") {
		t.Fatalf("the database password reached the error: %s", r.Stderr)
	}
}

// iam serve on the default store says, once, that it is the embedded
// SQLite store and that PostgreSQL is the production one.
func TestServe_UnsetDatabaseURLLogsTheEmbeddedStore(t *testing.T) {
	dataDir := t.TempDir()
	t.Setenv("IAM_DATABASE_URL", "")
	t.Setenv("IAM_DATA_DIR", dataDir)
	addr := testkit.FreeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testkit.LockedBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- cli.Run(ctx, []string{"serve", "--http-addr", addr, "--signing-key-file", testkit.SigningKeyFile(t), "--log-format", "json"},
			cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: logs})
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("iam serve exited %d: %s", code, logs.String())
		}
	}()
	testkit.Eventually(t, 30*time.Second, "iam serve ready", func() bool {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	var lines []string
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, "SQLite") {
			lines = append(lines, line)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "embedded SQLite store") || !strings.Contains(lines[0], "PostgreSQL is the production store") ||
		!strings.Contains(lines[0], `"level":"INFO"`) || !strings.Contains(lines[0], filepath.Join(dataDir, "iam.db")) {
		t.Errorf("log lines about SQLite: %q; want one INFO line naming the file and PostgreSQL as the production store", lines)
	}
}

func TestHelp_ListsEveryFlag(t *testing.T) {
	var out strings.Builder
	if code := cli.Run(context.Background(), []string{"serve", "--help"}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &out}); code != 0 {
		t.Fatalf("serve --help exited %d", code)
	}
	for _, flag := range []string{"--database-url", "--data-dir", "IAM_DATA_DIR", "--http-addr", "--issuer", "--access-token-ttl", "--signing-key-file", "--public-url", "IAM_ACCESS_TOKEN_TTL"} {
		if !strings.Contains(out.String(), flag) {
			t.Fatalf("serve --help does not mention %s:\n%s", flag, out.String())
		}
	}
}

func TestCommands_UnknownSubcommandOfAGroupFails(t *testing.T) {
	for _, group := range []string{"role", "permission", "user", "session", "service", "keys", "audit", "security", "decision-logs"} {
		var out, errOut strings.Builder
		code := cli.Run(context.Background(), []string{group, "bogus"}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errOut})
		assertFails(t, testkit.Result{Code: code, Stdout: out.String(), Stderr: errOut.String()}, `unknown command "bogus" for "iam `+group+`"`)
		if code := cli.Run(context.Background(), []string{group}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errOut}); code != 0 || !strings.Contains(out.String(), "Available Commands") {
			t.Errorf("iam %s alone: exit %d, output %q; want its help", group, code, out.String())
		}
	}
}

// TestKeysPublic_PrintsTheServedKey checks that `iam keys public` prints
// the key the server publishes, as PEM and, with --one-line, as the same PEM
// on one line with literal \n escapes.
func TestKeysPublic_PrintsTheServedKey(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	srv := e.Serve()
	set, err := jwk.Parse(srv.Do(t, http.MethodGet, "/.well-known/jwks.json", "").Body)
	if err != nil {
		t.Fatal(err)
	}
	if set.Len() != 1 {
		t.Fatalf("JWKS has %d keys, want 1", set.Len())
	}
	jwkKey, _ := set.Key(0)
	var served rsa.PublicKey
	if err := jwkKey.Raw(&served); err != nil {
		t.Fatal(err)
	}

	out := e.Must("", "keys", "public", "--signing-key-file", e.KeyFile)
	block, rest := pem.Decode([]byte(out))
	if block == nil || block.Type != "PUBLIC KEY" || len(rest) != 0 {
		t.Fatalf("keys public printed %q, want one PEM PUBLIC KEY block and nothing else", out)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if rsaPub, ok := pub.(*rsa.PublicKey); !ok || !rsaPub.Equal(&served) {
		t.Fatalf("keys public printed a %T that is not the served JWKS key", pub)
	}

	line := e.Must("", "keys", "public", "--signing-key-file", e.KeyFile, "--one-line")
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || !strings.HasPrefix(line, `-----BEGIN PUBLIC KEY-----\n`) {
		t.Fatalf("keys public --one-line printed %q, want one line with \\n escapes", line)
	}
	if got := strings.ReplaceAll(strings.TrimSuffix(line, "\n"), `\n`, "\n"); got != out {
		t.Fatalf("keys public --one-line unescapes to %q, want the PEM %q", got, out)
	}
}

func TestPasswordPolicy_AppliesToSuperuserAndSetPassword(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	assertFails(t, e.Run("Root-Password-42\n", "createsuperuser", "--username", "root", "--password-stdin"), "must not contain the username")
	assertFails(t, e.Run("administrator\n", "createsuperuser", "--username", "root", "--password-stdin"), "commonly used")
	e.Must("s3cret-admin-pw\n", "createsuperuser", "--username", "root", "--password-stdin")
	assertFails(t, e.Run("eleven char\n", "user", "set-password", "root", "--password-stdin"), "12 to 1024")
	assertFails(t, e.Run("I am ROOT, hello\n", "user", "set-password", "root", "--password-stdin"), "must not contain the username")
	assertFails(t, e.Run("password1234\n", "user", "set-password", "root", "--password-stdin"), "commonly used")
	e.Must("another-admin-pw\n", "user", "set-password", "root", "--password-stdin")
	srv := e.Serve()
	testkit.AssertError(t, srv.Login(t, "root", "s3cret-admin-pw"), http.StatusUnauthorized, "invalid_credentials")
	srv.Token(t, "root", "another-admin-pw")
}

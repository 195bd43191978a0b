package cli_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwt"

	"github.com/gaia-platform/iam/internal/cli"
)

func TestCreateSuperuser_GetsTheIAMAdminRole(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must("s3cret-admin-pw\n", "createsuperuser", "--username", "root", "--password-stdin")
	srv := e.serve()
	tok, err := jwt.ParseString(srv.token(t, "root", "s3cret-admin-pw"), jwt.WithVerify(false))
	if err != nil {
		t.Fatal(err)
	}
	roles, _ := tok.Get("roles")
	perms, _ := tok.Get("permissions")
	assertStrings(t, "roles", roles, "iam-admin")
	assertStrings(t, "permissions", perms, "iam.audit.read", "iam.roles.write", "iam.users.read", "iam.users.write")

	r := e.run("other-password\n", "createsuperuser", "--username", "ROOT", "--password-stdin")
	assertFails(t, r, "already taken")
}

func TestUserCreate_RefusesPasswordWithoutStdinOrTerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	assertFails(t, e.run("", "user", "create", "carol"), "--password-stdin")
	assertFails(t, e.run("short\n", "user", "create", "carol", "--password-stdin"), "8 to 1024")
	assertFails(t, e.run("long enough pw\n", "user", "create", "carol", "--password-stdin", "--role", "Nope"), `unknown role: "Nope"`)
	assertFails(t, e.run("long enough pw\n", "user", "create", "bad name", "--password-stdin"), "invalid username")
	if out := e.must("", "user", "list"); strings.Contains(out, "carol") {
		t.Fatalf("a failed create left a user behind:\n%s", out)
	}
	assertFails(t, e.run("", "user", "disable", "ghost"), `user not found: "ghost"`)
}

func TestRoleChanges_AreAuditedOnceAndIdempotent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.must("", "seed", "--file", examplesSeed)
	e.must("", "role", "grant", "Viewer", "analytics.report.view")
	if out := e.must("", "role", "grant", "viewer", "analytics.report.view"); !strings.HasPrefix(out, "nothing to do") {
		t.Fatalf("second grant: %q", out)
	}
	if n := len(auditEvents(t, e, "role.permission.granted")); n != 6+1 { // 6 from the seed, 1 here
		t.Fatalf("%d grant events, want 7", n)
	}
	e.must("", "role", "revoke", "Viewer", "analytics.report.view")
	assertFails(t, e.run("", "role", "grant", "Viewer", "inventory.delete"), `unknown permission: "inventory.delete"`)
	assertFails(t, e.run("", "role", "grant", "Ghost", "inventory.read"), `unknown role: "Ghost"`)
	assertFails(t, e.run("", "role", "revoke", "iam-admin", "iam.users.read"), "built-in")
	list := e.must("", "role", "list")
	if !strings.Contains(list, "Viewer") || strings.Contains(list, "inventory.delete") {
		t.Fatalf("role list:\n%s", list)
	}
}

func TestSeed_IsIdempotentAndAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if out := e.must("", "seed", "--file", examplesSeed); !strings.Contains(out, "seed applied: 12 changes") {
		t.Fatalf("first seed: %s", out)
	}
	if out := e.must("", "seed", "--file", examplesSeed); strings.TrimSpace(out) != "seed applied: 0 changes" {
		t.Fatalf("second seed changed something: %s", out)
	}
	bad := writeFile(t, "bad.yaml", `
permissions:
  - code: billing.read
roles:
  - name: Billing
    permissions: [billing.read, billing.wirte]
`)
	before := e.must("", "role", "list")
	assertFails(t, e.run("", "seed", "--file", bad), `unknown permission: "billing.wirte"`)
	if after := e.must("", "role", "list"); after != before {
		t.Fatalf("a failed seed changed roles:\n%s", after)
	}
	assertFails(t, e.run("", "seed", "--file", writeFile(t, "typo.yaml", "rolez: []\n")), "field rolez not found")
	assertFails(t, e.run("", "seed", "--file", writeFile(t, "code.yaml", "permissions: [{code: Inventory}]\n")), "invalid permission code")
	assertFails(t, e.run("", "seed", "--file", filepath.Join(t.TempDir(), "missing.yaml")), "no such file")
}

func TestServe_InvalidConfigurationNamesTheVariable(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dir := t.TempDir()
	weak, _ := rsa.GenerateKey(rand.Reader, 1024)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	weakFile := writeFile(t, "weak.pem", string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(weak)})))
	ecFile := writeFile(t, "ec.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER})))
	garbage := writeFile(t, "garbage.pem", "hello")
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
		r := e.run("", append([]string{"serve", "--http-addr", "127.0.0.1:0"}, c.args...)...)
		if c.args[0] == "--http-addr" {
			r = e.run("", append([]string{"serve"}, c.args...)...)
		}
		assertFails(t, r, c.want)
	}
}

func TestCommands_MissingOrUnreachableDatabaseIsOneLine(t *testing.T) {
	t.Setenv("IAM_DATABASE_URL", "")
	var out, errb strings.Builder
	code := cli.Run(context.Background(), []string{"user", "list"}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	assertFails(t, result{code: code, err: errb.String()}, "IAM_DATABASE_URL is not set")

	errb.Reset()
	url := "postgres://gaia:hunter2-secret@127.0.0.1:1/gaia?connect_timeout=2"
	code = cli.Run(context.Background(), []string{"--database-url", url, "serve"}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &errb})
	assertFails(t, result{code: code, err: errb.String()}, "unreachable")
	if strings.Contains(errb.String(), "hunter2") {
		t.Fatalf("the database password reached the error: %s", errb.String())
	}
}

func TestHelp_ListsEveryFlag(t *testing.T) {
	var out strings.Builder
	if code := cli.Run(context.Background(), []string{"serve", "--help"}, cli.IO{In: strings.NewReader(""), Out: &out, Err: &out}); code != 0 {
		t.Fatalf("serve --help exited %d", code)
	}
	for _, flag := range []string{"--database-url", "--http-addr", "--issuer", "--access-token-ttl", "--signing-key-file", "--public-url", "IAM_ACCESS_TOKEN_TTL"} {
		if !strings.Contains(out.String(), flag) {
			t.Fatalf("serve --help does not mention %s:\n%s", flag, out.String())
		}
	}
}

func assertFails(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != 1 {
		t.Fatalf("exit code %d, want 1 (stderr %q)", r.code, r.err)
	}
	line := strings.TrimSpace(r.err)
	if strings.Contains(line, "\n") || !strings.HasPrefix(line, "iam: ") || !strings.Contains(line, want) {
		t.Fatalf("stderr %q, want one line starting iam: and containing %q", r.err, want)
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
	"github.com/gaia-platform/iam/sdk"
)

// pythonDecide asks the Python package, as a service embeds it, every
// token × permission against a live IAM. It prints one decision per line.
const pythonDecide = `
import json, sys, time
import gaia_iam
q = json.load(sys.stdin)
with gaia_iam.Authorizer(q["iam_url"], poll_interval=1.0) as authz:
    deadline = time.time() + 20
    while not authz.ready():
        if time.time() > deadline:
            sys.exit("no bundle within 20 s")
        time.sleep(0.05)
    for token in q["tokens"]:
        for permission in q["permissions"]:
            d = authz.authorize(token, permission)
            print(json.dumps({"allow": d.allow, "reasons": sorted(d.reasons)}))
`

// nodeDecide is the same for the Node package.
const nodeDecide = `
import { createAuthorizer } from '@gaia-platform/iam';
let input = '';
for await (const chunk of process.stdin) input += chunk;
const q = JSON.parse(input);
const authz = createAuthorizer({ iamUrl: q.iam_url, pollInterval: 1000 });
const deadline = Date.now() + 20000;
while (!authz.isReady()) {
  if (Date.now() > deadline) { console.error('no bundle within 20 s'); process.exit(1); }
  await new Promise((r) => setTimeout(r, 50));
}
for (const token of q.tokens) {
  for (const permission of q.permissions) {
    const d = await authz.authorize(token, permission);
    console.log(JSON.stringify({ allow: d.allow, reasons: [...d.reasons].sort() }));
  }
}
await authz.close();
`

type decision struct {
	Allow   bool     `json:"allow"`
	Reasons []string `json:"reasons"`
}

// The same token × permission matrix, asked of the Go SDK, a stock OPA,
// the Python package and the Node package loading one live IAM's bundle,
// gets the same answers from all four.
func TestLiveParity_GoSDKStockOPAPythonAndNodeAgree(t *testing.T) {
	t.Parallel()
	python := testkit.Python(t)
	node := testkit.NodeProject(t, "clients/node")
	e := testkit.NewIAM(t)
	e.WithUser("alice", testkit.InventoryPassword, "Analyst")
	e.Must(testkit.InventoryPassword+"\n", "user", "create", "bob", "--password-stdin", "--role", "Viewer")
	e.Must(testkit.InventoryPassword+"\n", "user", "create", "carol", "--password-stdin", "--role", "Admin")
	srv := e.Serve()
	var creds struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(e.Must("", "service", "create", "reporting", "--role", "Analyst", "--output", "json")), &creds); err != nil {
		t.Fatal(err)
	}
	alice, bob, carol := srv.Token(t, "alice", testkit.InventoryPassword), srv.Token(t, "bob", testkit.InventoryPassword), srv.Token(t, "carol", testkit.InventoryPassword)
	loggedOut := srv.Token(t, "alice", testkit.InventoryPassword)
	if r := srv.Do(t, http.MethodPost, "/auth/logout", "", "Authorization", "Bearer "+loggedOut); r.Status != http.StatusNoContent {
		t.Fatalf("logout: %d %s", r.Status, r.Body)
	}
	r := srv.Do(t, http.MethodPost, "/oauth/token", "grant_type=client_credentials&client_id="+creds.ClientID+"&client_secret="+creds.ClientSecret,
		"Content-Type", "application/x-www-form-urlencoded")
	service, _ := r.JSON(t)["access_token"].(string)
	if service == "" {
		t.Fatalf("client credentials: %d %s", r.Status, r.Body)
	}
	e.Must("", "role", "grant", "Viewer", "analytics.report.view") // after bob's token: the bundle decides
	tampered := alice[:strings.LastIndex(alice, ".")] + ".AAAA"
	tokens := []string{alice, bob, carol, service, loggedOut, tampered, "not-a-token", ""}
	permissions := []string{"inventory.read", "inventory.write", "analytics.report.view", "nobody.has.this", ""}

	authz, err := sdk.New(context.Background(), sdk.Config{IAMURL: srv.URL, PollInterval: time.Second,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(authz.Close)
	key := strings.ReplaceAll(e.Must("", "keys", "public", "--signing-key-file", testkit.SigningKeyFile(t)), "\n", `\n`)
	opaURL := testkit.StartOPA(t, "../../bundles/opa-config.yaml",
		[]string{"GAIA_IAM_URL=" + srv.URL, "GAIA_IAM_PUBLIC_KEY=" + key},
		"--set", "bundles.gaia.polling.min_delay_seconds=1", "--set", "bundles.gaia.polling.max_delay_seconds=1")
	client := &http.Client{Timeout: 10 * time.Second}
	// All three must have the bundle with the Viewer grant: bob may view
	// reports in each.
	testkit.Eventually(t, 20*time.Second, "the SDK and the stock OPA load the bundle with the new grant", func() bool {
		d, err := authz.Authorize(context.Background(), bob, "analytics.report.view")
		raw, ok := askOPA(t, client, opaURL, "decision", map[string]any{"token": bob, "permission": "analytics.report.view"})
		var o decision
		_ = json.Unmarshal(raw, &o)
		return err == nil && d.Allow && ok && o.Allow
	})

	query, _ := json.Marshal(map[string]any{"iam_url": srv.URL, "tokens": tokens, "permissions": permissions})
	py := decisions(t, exec.Command(python, "-c", pythonDecide), testkit.PythonEnv(), query, len(tokens)*len(permissions))
	nodeCmd := exec.Command(node, "--input-type=module", "-e", nodeDecide)
	nodeCmd.Dir = filepath.Join(testkit.RepoRoot(), "clients", "node") // the package resolves itself by name
	js := decisions(t, nodeCmd, os.Environ(), query, len(tokens)*len(permissions))
	allowed := 0
	norm := func(d decision) string {
		b, _ := json.Marshal(decision{d.Allow, append([]string{}, d.Reasons...)})
		return string(b)
	}
	for i, token := range tokens {
		for j, permission := range permissions {
			d, err := authz.Authorize(context.Background(), token, permission)
			if err != nil {
				t.Fatal(err)
			}
			goSDK := decision{Allow: d.Allow, Reasons: slices.Sorted(slices.Values(d.Reasons))}
			raw, _ := askOPA(t, client, opaURL, "decision", map[string]any{"token": token, "permission": permission})
			var opa decision
			if err := json.Unmarshal(raw, &opa); err != nil {
				t.Fatal(err)
			}
			k := i*len(permissions) + j
			if want := norm(opa); norm(goSDK) != want || norm(py[k]) != want || norm(js[k]) != want {
				t.Errorf("token %d / %q: Go SDK %s, stock OPA %s, Python %s, Node %s", i, permission, norm(goSDK), want, norm(py[k]), norm(js[k]))
			}
			if opa.Allow {
				allowed++
			}
		}
	}
	if allowed == 0 || allowed == len(tokens)*len(permissions) {
		t.Fatalf("%d of %d allowed: the matrix does not tell answers apart", allowed, len(tokens)*len(permissions))
	}
}

// decisions runs cmd with query on stdin and reads want decisions, one
// JSON object a line, from what it prints.
func decisions(t *testing.T, cmd *exec.Cmd, env []string, query []byte, want int) []decision {
	t.Helper()
	cmd.Env = env
	cmd.Stdin = bytes.NewReader(query)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v: %s", cmd.Path, err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != want {
		t.Fatalf("%s printed %d decisions, want %d:\n%s", cmd.Path, len(lines), want, out)
	}
	ds := make([]decision, len(lines))
	for i, line := range lines {
		if err := json.Unmarshal([]byte(line), &ds[i]); err != nil {
			t.Fatalf("%s printed %q: %v", cmd.Path, line, err)
		}
	}
	return ds
}

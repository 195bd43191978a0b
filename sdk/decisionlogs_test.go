package sdk_test

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gaia-platform/iam/internal/testkit"
	"github.com/gaia-platform/iam/sdk"
)

const alicePassword = "correct horse battery staple"

// decisionLogger starts an IAM with alice (Analyst) and a service account
// that may upload decision logs, returning its credentials.
func decisionLogger(t *testing.T) (*testkit.IAM, *testkit.Server, sdk.DecisionLogs) {
	t.Helper()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Analyst")
	srv := e.Serve()
	var creds struct {
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	}
	if err := json.Unmarshal([]byte(e.Must("", "service", "create", "opa-sdk", "--role", "iam-decision-logger", "--output", "json")), &creds); err != nil {
		t.Fatal(err)
	}
	return e, srv, sdk.DecisionLogs{ClientID: creds.ClientID, ClientSecret: creds.ClientSecret}
}

// storedDecisions reads the IAM's decision log through the CLI.
func storedDecisions(t *testing.T, e *testkit.IAM, args ...string) ([]map[string]any, string) {
	t.Helper()
	return e.JSONLines(append([]string{"decision-logs", "list"}, args...)...)
}

func TestDecisionLogs_SDKShipsItsDecisionsToTheIAMRedacted(t *testing.T) {
	e, srv, logs := decisionLogger(t)
	// Uploads would wait a minute: Close must upload what is left.
	logs.MinDelay, logs.MaxDelay = time.Minute, time.Minute
	a, err := sdk.New(context.Background(), sdk.Config{IAMURL: srv.URL, PollInterval: time.Second, DecisionLogs: &logs,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ready(t, a)
	token := srv.Token(t, "alice", alicePassword)
	ctx := context.Background()
	read, err := a.Authorize(ctx, token, "inventory.read")
	if err != nil || !read.Allow {
		t.Fatalf("inventory.read: %+v, %v", read, err)
	}
	if d, err := a.Authorize(ctx, token, "inventory.write"); err != nil || d.Allow {
		t.Fatalf("inventory.write: %+v, %v", d, err)
	}
	a.Close()

	entries, out := storedDecisions(t, e, "--subject", "alice")
	if len(entries) != 2 {
		t.Fatalf("stored decisions about alice: %s", out)
	}
	if strings.Contains(out, token[strings.LastIndex(token, ".")+1:]) || strings.Contains(out, "eyJ") {
		t.Fatalf("a stored decision holds the token: %s", out)
	}
	byPermission := map[string]map[string]any{}
	for _, d := range entries {
		input, _ := d["input"].(map[string]any)
		p, _ := input["permission"].(string)
		byPermission[p] = d
		if d["path"] != "gaia/authz/decision" || d["revision"] != read.Revision || d["token_id"] == "" {
			t.Errorf("stored decision %v", d)
		}
	}
	if byPermission["inventory.read"]["allowed"] != true || byPermission["inventory.write"]["allowed"] != false {
		t.Errorf("stored verdicts: %s", out)
	}
	wantReasons, _ := byPermission["inventory.write"]["reasons"].([]any)
	if len(wantReasons) != 1 || wantReasons[0] != sdk.ReasonPermissionMissing {
		t.Errorf("stored reasons %v", byPermission["inventory.write"]["reasons"])
	}
}

func TestDecisionLogs_SDKUploadsPeriodicallyWithATokenSource(t *testing.T) {
	e, srv, logs := decisionLogger(t)
	cc := clientcredentials.Config{ClientID: logs.ClientID, ClientSecret: logs.ClientSecret, TokenURL: srv.URL + "/oauth/token"}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	a, err := sdk.New(context.Background(), sdk.Config{IAMURL: srv.URL, PollInterval: time.Second,
		DecisionLogs: &sdk.DecisionLogs{TokenSource: oauth2.StaticTokenSource(tok), MinDelay: time.Second, MaxDelay: time.Second},
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	ready(t, a)
	if !a.HasPermission(context.Background(), srv.Token(t, "alice", alicePassword), "inventory.read") {
		t.Fatal("denied")
	}
	testkit.Eventually(t, 15*time.Second, "the decision reaches the IAM within a few upload periods", func() bool {
		entries, _ := storedDecisions(t, e, "--subject", "alice")
		return len(entries) == 1
	})
}

func TestDecisionLogs_SDKRejectsIncompleteCredentials(t *testing.T) {
	for _, d := range []sdk.DecisionLogs{
		{},
		{ClientID: "x"},
		{ClientID: "x", ClientSecret: "y", TokenSource: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "t"})},
		{ClientID: "x", ClientSecret: "y", MinDelay: 500 * time.Millisecond, MaxDelay: time.Second},
		{ClientID: "x", ClientSecret: "y", MinDelay: 5 * time.Second, MaxDelay: time.Second},
	} {
		if _, err := sdk.New(context.Background(), sdk.Config{IAMURL: "http://127.0.0.1:1", DecisionLogs: &d}); err == nil {
			t.Errorf("DecisionLogs %+v accepted", d)
		}
	}
}

func TestDecisionLogs_StockOPAShipsDecisionsWithTheShippedConfig(t *testing.T) {
	e, srv, logs := decisionLogger(t)
	// OPA's oauth2 credentials take only an https token URL: put TLS in
	// front of the IAM, as production does, and make OPA trust its cert.
	backend, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	front := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(backend))
	t.Cleanup(front.Close)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: front.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(e.Must("", "keys", "public", "--signing-key-file", e.KeyFile, "--one-line"))
	opaURL := testkit.StartOPA(t, "../bundles/opa-config.yaml",
		[]string{"SSL_CERT_FILE=" + caFile, "GAIA_IAM_URL=" + front.URL, "GAIA_IAM_PUBLIC_KEY=" + key,
			"GAIA_IAM_CLIENT_ID=" + logs.ClientID, "GAIA_IAM_CLIENT_SECRET=" + logs.ClientSecret},
		"--set", "bundles.gaia.polling.min_delay_seconds=1", "--set", "bundles.gaia.polling.max_delay_seconds=1",
		"--set", "decision_logs.service=gaia-iam-logs",
		"--set", "decision_logs.reporting.min_delay_seconds=1", "--set", "decision_logs.reporting.max_delay_seconds=1")
	token := srv.Token(t, "alice", alicePassword)
	testkit.Eventually(t, 15*time.Second, "stock OPA activates the bundle and allows", func() bool {
		d, ok := askOPA(t, http.DefaultClient, opaURL, token, "inventory.read")
		return ok && d.Allow
	})
	var entries []map[string]any
	var out string
	testkit.Eventually(t, 15*time.Second, "the decision reaches the IAM", func() bool {
		entries, out = storedDecisions(t, e, "--subject", "alice", "--outcome", "allowed")
		return len(entries) > 0
	})
	if strings.Contains(out, token[strings.LastIndex(token, ".")+1:]) || strings.Contains(out, "eyJ") {
		t.Fatalf("a stored decision holds the token: %s", out)
	}
	if d := entries[0]; d["path"] != "gaia/authz/decision" || d["revision"] == "" {
		t.Errorf("stored decision %v", d)
	}
}

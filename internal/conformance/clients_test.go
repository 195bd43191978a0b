package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
	"github.com/gaia-platform/iam/sdk"
)

// serveIAM serves bundle.tar.gz and jwks.json where the IAM serves them.
func serveIAM(t *testing.T, g generated) *httptest.Server {
	t.Helper()
	etag := `"` + g.vectors.Revision + `"`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/jwks.json":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(g.files["jwks.json"])
		case "/bundles/gaia.tar.gz":
			if r.Header.Get("If-None-Match") == etag {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", etag)
			w.Header().Set("Content-Type", "application/gzip")
			_, _ = w.Write(g.files["bundle.tar.gz"])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// checkSDK decides every case with the Go SDK, at the wall clock.
func checkSDK(t *testing.T, iamURL string, v vectors) {
	logger := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	a, err := sdk.New(context.Background(), sdk.Config{IAMURL: iamURL, PollInterval: time.Second, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	testkit.Eventually(t, 20*time.Second, "the SDK loads the bundle", a.Ready)
	ctx := context.Background()
	for _, c := range v.Cases {
		d, err := a.Authorize(ctx, v.Tokens[c.Token], c.Permission)
		if err != nil {
			t.Fatalf("%s / %q: %v", c.Token, c.Permission, err)
		}
		if d.Allow != c.Allow || !slices.Equal(d.Reasons, c.Reasons) || d.Revision != v.Revision {
			t.Errorf("%s / %q: SDK allow %v reasons %v (revision %s); vectors allow %v reasons %v",
				c.Token, c.Permission, d.Allow, d.Reasons, d.Revision, c.Allow, c.Reasons)
		}
	}
	for name, want := range v.Principals {
		p, err := a.Principal(ctx, v.Tokens[name])
		switch {
		case want == nil && !errors.Is(err, sdk.ErrInvalidToken):
			t.Errorf("principal %s: SDK %+v, %v; vectors null", name, p, err)
		case want != nil && err != nil:
			t.Errorf("principal %s: SDK %v; vectors %v", name, err, want)
		case want != nil && !reflect.DeepEqual(*p, sdkPrincipal(t, want)):
			t.Errorf("principal %s: SDK %+v; vectors %v", name, *p, want)
		}
	}
}

// sdkPrincipal is the sdk.Principal the claims make.
func sdkPrincipal(t *testing.T, claims any) sdk.Principal {
	t.Helper()
	raw, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Sub, Username, Type, JTI string
		Roles, Permissions       []string
		IAT, EXP                 int64
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return sdk.Principal{Subject: c.Sub, Username: c.Username, Type: c.Type, Roles: c.Roles, Permissions: c.Permissions,
		TokenID: c.JTI, IssuedAt: time.Unix(c.IAT, 0), ExpiresAt: time.Unix(c.EXP, 0)}
}

// checkStockOPA asks an opa built from the pinned module, configured by
// bundles/opa-config.yaml with the IAM's URL and public key, every case.
func checkStockOPA(t *testing.T, iamURL string, k testKeys, v vectors) {
	key := strings.ReplaceAll(publicPEM(t, k.iam), "\n", `\n`)
	opaURL := testkit.StartOPA(t, "../../bundles/opa-config.yaml",
		[]string{"GAIA_IAM_URL=" + iamURL, "GAIA_IAM_PUBLIC_KEY=" + key},
		"--set", "bundles.gaia.polling.min_delay_seconds=1", "--set", "bundles.gaia.polling.max_delay_seconds=1")
	client := &http.Client{Timeout: 10 * time.Second}
	testkit.Eventually(t, 20*time.Second, "stock OPA activates the bundle", func() bool {
		_, ok := askOPA(t, client, opaURL, "decision", map[string]any{"token": "", "permission": ""})
		return ok
	})
	for _, c := range v.Cases {
		got, _ := askOPA(t, client, opaURL, "decision", map[string]any{"token": v.Tokens[c.Token], "permission": c.Permission})
		want := map[string]any{"allow": c.Allow, "reasons": c.Reasons}
		if !sameJSON(t, got, want) {
			t.Errorf("%s / %q: stock OPA %s; vectors %s", c.Token, c.Permission, got, mustMarshal(t, want))
		}
	}
	for name, want := range v.Principals {
		got, ok := askOPA(t, client, opaURL, "principal", map[string]any{"token": v.Tokens[name]})
		if (want == nil) == ok || (ok && !sameJSON(t, got, want)) {
			t.Errorf("principal %s: stock OPA %s (defined %v); vectors %s", name, got, ok, mustMarshal(t, want))
		}
	}
}

// askOPA posts input to /v1/data/gaia/authz/<rule> and returns the result,
// and whether it is defined.
func askOPA(t *testing.T, client *http.Client, opaURL, rule string, input map[string]any) (json.RawMessage, bool) {
	t.Helper()
	body := mustMarshal(t, map[string]any{"input": input})
	resp, err := client.Post(opaURL+"/v1/data/gaia/authz/"+rule, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Result json.RawMessage `json:"result"`
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("opa answered %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Result, out.Result != nil
}

func sameJSON(t *testing.T, raw json.RawMessage, want any) bool {
	t.Helper()
	var a, b any
	if err := json.Unmarshal(raw, &a); err != nil {
		return false
	}
	if err := json.Unmarshal(mustMarshal(t, want), &b); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(a, b)
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

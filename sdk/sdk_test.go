package sdk_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/testkit"
	"github.com/gaia-platform/iam/sdk"
)

const poll = time.Second

func newAuthorizer(t testing.TB, iam *fakeIAM, cacheDir string) *sdk.Authorizer {
	t.Helper()
	a, err := sdk.New(context.Background(), sdk.Config{
		IAMURL: iam.srv.URL, PollInterval: poll, CacheDir: cacheDir,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	return a
}

func ready(t testing.TB, a *sdk.Authorizer) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, "first bundle loaded", a.Ready)
}

func TestNew_RejectsBadConfig(t *testing.T) {
	for _, c := range []sdk.Config{{}, {IAMURL: "ftp://x"}, {IAMURL: "http://127.0.0.1:1", PollInterval: time.Millisecond}} {
		if _, err := sdk.New(context.Background(), c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}

func TestAuthorize_DeniesEverythingUntilTheFirstBundle(t *testing.T) {
	iam := newFakeIAM(t)
	iam.down.Store(true)
	a := newAuthorizer(t, iam, "")
	tok := iam.token([]string{"Admin"}, nil)
	if a.Ready() || a.HasPermission(context.Background(), tok, "inventory.read") {
		t.Fatal("allowed before any bundle was loaded")
	}
	if d, err := a.Authorize(context.Background(), tok, "inventory.read"); !errors.Is(err, sdk.ErrNotReady) || d.Allow {
		t.Fatalf("Authorize before ready: %+v, %v", d, err)
	}
	iam.down.Store(false)
	ready(t, a)
	if !a.HasPermission(context.Background(), tok, "inventory.read") {
		t.Fatal("denied after the bundle arrived")
	}
}

func TestAuthorize_DecidesFromTheBundle(t *testing.T) {
	iam := newFakeIAM(t)
	a := newAuthorizer(t, iam, "")
	ready(t, a)
	ctx := context.Background()
	analyst := iam.token([]string{"Analyst"}, nil)
	cases := []struct {
		name, token, permission string
		allow                   bool
		reasons                 []string
	}{
		{"granted", analyst, "inventory.read", true, nil},
		{"not granted", analyst, "inventory.write", false, []string{sdk.ReasonPermissionMissing}},
		{"no wildcard", analyst, "inventory.*", false, []string{sdk.ReasonPermissionMissing}},
		{"expired", iam.token([]string{"Analyst"}, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Second).Unix() }), "inventory.read", false, []string{sdk.ReasonTokenExpired}},
		{"forged", signToken(t, otherKey, iam.kid, []string{"Admin"}, nil), "inventory.read", false, []string{sdk.ReasonTokenInvalid}},
		{"garbage", "not.a.token", "inventory.read", false, []string{sdk.ReasonTokenInvalid}},
		{"service token", iam.token([]string{"Admin"}, func(c map[string]any) { c["type"] = "service" }), "inventory.write", true, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 2 { // the second answer comes from the cache
				d, err := a.Authorize(ctx, c.token, c.permission)
				if err != nil {
					t.Fatal(err)
				}
				if d.Allow != c.allow || !slices.Equal(d.Reasons, append([]string{}, c.reasons...)) || d.Revision == "" {
					t.Fatalf("decision %+v, want allow=%v reasons=%v", d, c.allow, c.reasons)
				}
			}
		})
	}
	p, err := a.Principal(ctx, analyst)
	if err != nil || p.Username != "alice" || !slices.Equal(p.Roles, []string{"Analyst"}) || p.ExpiresAt.Before(time.Now()) {
		t.Fatalf("principal %+v, %v", p, err)
	}
	if _, err := a.Principal(ctx, "not.a.token"); !errors.Is(err, sdk.ErrInvalidToken) {
		t.Fatalf("principal of garbage: %v", err)
	}
}

func TestAuthorize_FollowsGrantsAndRevocationsAtTheNextPoll(t *testing.T) {
	iam := newFakeIAM(t)
	a := newAuthorizer(t, iam, "")
	ready(t, a)
	ctx := context.Background()
	tok := iam.token([]string{"Analyst"}, nil)
	if a.HasPermission(ctx, tok, "inventory.write") {
		t.Fatal("allowed before the grant")
	}
	iam.setRole("Analyst", "analytics.report.view", "inventory.read", "inventory.write")
	testkit.Eventually(t, 3*poll, "grant reaches the authorizer", func() bool { return a.HasPermission(ctx, tok, "inventory.write") })

	var claims struct{ JTI string }
	_ = json.Unmarshal(mustPayload(t, tok), &claims)
	iam.revokeJTI(claims.JTI)
	testkit.Eventually(t, 3*poll, "revocation reaches the authorizer", func() bool {
		d, _ := a.Authorize(ctx, tok, "inventory.read")
		return slices.Contains(d.Reasons, sdk.ReasonTokenRevoked)
	})
	if _, err := a.Principal(ctx, tok); !errors.Is(err, sdk.ErrInvalidToken) {
		t.Fatalf("revoked token still has a principal: %v", err)
	}
}

func TestAuthorize_RefusesBundlesNotSignedByTheIAM(t *testing.T) {
	iam := newFakeIAM(t)
	a := newAuthorizer(t, iam, "")
	ready(t, a)
	ctx := context.Background()
	tok := iam.token([]string{"Analyst"}, nil)
	good, _ := a.Authorize(ctx, tok, "inventory.read")

	evil := iam.data()
	evil["gaia"].(map[string]any)["roles"] = map[string]any{"Analyst": []string{"inventory.read", "inventory.write", "iam.users.write"}}
	signed := buildBundle(t, iam.data(), iam.key, iam.kid)
	bad := map[string][]byte{
		"unsigned":               buildBundle(t, evil, nil, ""),
		"signed by another key":  buildBundle(t, evil, otherKey, iam.kid),
		"unknown kid":            buildBundle(t, evil, otherKey, "other-kid"),
		"file outside signature": withExtraFile(t, signed, "/gaia/roles/Viewer/data.json", `["inventory.write"]`),
	}
	for name, body := range bad {
		t.Run(name, func(t *testing.T) {
			iam.serveRaw(body)
			fresh := newAuthorizer(t, iam, "")
			time.Sleep(3 * poll) // both authorizers poll at least twice
			if fresh.Ready() {
				t.Fatal("a fresh authorizer activated the bundle")
			}
			d, err := a.Authorize(ctx, tok, "inventory.write")
			if err != nil || d.Allow || d.Revision != good.Revision {
				t.Fatalf("after a %s bundle: %+v %v (want the last good revision %s)", name, d, err, good.Revision)
			}
		})
	}
}

func TestAuthorize_KeepsWorkingWhenTheIAMIsDownAndAfterARestart(t *testing.T) {
	iam := newFakeIAM(t)
	dir := t.TempDir()
	a := newAuthorizer(t, iam, dir)
	ready(t, a)
	ctx := context.Background()
	tok := iam.token([]string{"Analyst"}, nil)
	iam.down.Store(true)
	time.Sleep(2 * poll)
	if !a.HasPermission(ctx, tok, "inventory.read") || a.HasPermission(ctx, tok, "inventory.write") {
		t.Fatal("decisions changed while the IAM was down")
	}
	a.Close()

	restarted := newAuthorizer(t, iam, dir)
	testkit.Eventually(t, 10*time.Second, "restart from the disk cache while the IAM is down", restarted.Ready)
	if !restarted.HasPermission(ctx, tok, "inventory.read") || restarted.HasPermission(ctx, tok, "inventory.write") {
		t.Fatal("wrong decisions from the cached bundle")
	}
}

func TestAuthorize_MakesNoIAMCallsPerDecision(t *testing.T) {
	iam := newFakeIAM(t)
	a := newAuthorizer(t, iam, "")
	ready(t, a)
	ctx := context.Background()
	tokens := make([]string, 50)
	for i := range tokens {
		tokens[i] = iam.token([]string{"Analyst"}, nil)
	}
	before := iam.hits.Load()
	start := time.Now()
	for i := range 5000 {
		a.HasPermission(ctx, tokens[i%len(tokens)], "inventory.read")
	}
	// Background polls (about two a poll interval) are all the IAM sees.
	if got, bound := iam.hits.Load()-before, 2*int64(time.Since(start)/poll+1); got > bound {
		t.Fatalf("the IAM received %d requests during 5000 decisions (background bound %d)", got, bound)
	}
}

func TestMiddleware_RefusesWithTheRightStatus(t *testing.T) {
	iam := newFakeIAM(t)
	a := newAuthorizer(t, iam, "")
	ready(t, a)
	gin.SetMode(gin.TestMode)
	r := gin.New()
	whoami := func(ctx context.Context) string {
		if p := sdk.PrincipalFrom(ctx); p != nil {
			return p.Username
		}
		return ""
	}
	r.GET("/items", a.Require("inventory.read"), func(c *gin.Context) { c.String(200, whoami(c.Request.Context())) })
	r.POST("/items", a.Require("inventory.write"), func(c *gin.Context) { c.String(201, "created") })
	mux := http.NewServeMux()
	mux.Handle("/std", a.RequireHTTP("inventory.read", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, whoami(r.Context()))
	})))
	analyst := iam.token([]string{"Analyst"}, nil)
	expired := iam.token([]string{"Analyst"}, func(c map[string]any) { c["exp"] = time.Now().Add(-time.Minute).Unix() })
	for _, c := range []struct {
		handler      http.Handler
		method, path string
		token        string
		status       int
		body, code   string
	}{
		{r, "GET", "/items", analyst, 200, "alice", ""},
		{r, "POST", "/items", analyst, 403, "", "forbidden"},
		{r, "GET", "/items", "", 401, "", "invalid_token"},
		{r, "GET", "/items", expired, 401, "", "invalid_token"},
		{r, "GET", "/items", "garbage", 401, "", "invalid_token"},
		{mux, "GET", "/std", analyst, 200, "alice", ""},
		{mux, "GET", "/std", "", 401, "", "invalid_token"},
	} {
		req := httptest.NewRequest(c.method, c.path, nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		w := httptest.NewRecorder()
		c.handler.ServeHTTP(w, req)
		if w.Code != c.status {
			t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, w.Code, c.status, w.Body)
		}
		if c.code == "" {
			if w.Body.String() != c.body {
				t.Fatalf("%s %s: body %q, want %q", c.method, c.path, w.Body, c.body)
			}
			continue
		}
		var body map[string]string
		if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["error"] != c.code || body["message"] == "" {
			t.Fatalf("%s %s: body %s", c.method, c.path, w.Body)
		}
		if c.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Fatalf("%s %s: 401 without WWW-Authenticate", c.method, c.path)
		}
	}
}

func mustPayload(t testing.TB, tok string) []byte {
	t.Helper()
	p, err := jwtPayload(tok)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestAuthorizeInput_PassesExtraFieldsButNotOverTheToken(t *testing.T) {
	iam := newFakeIAM(t)
	a := newAuthorizer(t, iam, "")
	ready(t, a)
	ctx := context.Background()
	tok := iam.token([]string{"Analyst"}, nil)
	d, err := a.AuthorizeInput(ctx, tok, "inventory.read", map[string]any{"method": "GET", "path": "/items"})
	if err != nil || !d.Allow {
		t.Fatalf("with extra fields: %+v %v", d, err)
	}
	// extra cannot smuggle in another permission or token.
	d, err = a.AuthorizeInput(ctx, tok, "inventory.write", map[string]any{"permission": "inventory.read", "token": "x"})
	if err != nil || d.Allow || !slices.Equal(d.Reasons, []string{sdk.ReasonPermissionMissing}) {
		t.Fatalf("extra overrode the question: %+v %v", d, err)
	}
}

package httpapi_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/app"
	"github.com/gaia-platform/iam/internal/config"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/testkit"
)

// The request decoders of the token endpoints, fuzzed through the whole
// API on a real PostgreSQL store. Whatever the body, the answer is never
// a 5xx (a panic is answered 500 by the recovery middleware) and every
// 4xx is a JSON error with a code and a message. Run one target for a
// while with
//
//	go test -run '^$' -fuzz '^FuzzLogin$' -fuzztime 10s ./internal/httpapi/
//
// (make fuzz runs them all); go test runs the committed seeds in
// testdata/fuzz.

const fuzzPassword = "fuzzing horse battery"

// fuzzAPI is the API on a fresh database holding the user alice, built
// once per fuzz target and process. Passwords are hashed with cheap
// argon2 parameters so that a well-formed login costs microseconds, not
// the production hash's tens of milliseconds. It also returns a live
// refresh token of alice's.
func fuzzAPI(f *testing.F) (http.Handler, string) {
	f.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	db, err := config.ParseDatabase(testkit.DatabaseURL(f), "")
	if err != nil {
		f.Fatal(err)
	}
	// Only errors are logged: the cause of a 500 is then in the output.
	logs := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	iam, err := app.Open(ctx, db, identity.DefaultHashLimits(), logs)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(iam.Close)
	f.Cleanup(cancel) // runs first: stops the bundle publisher before the store closes
	cheap := identity.Argon2Params{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	if iam.Users, err = identity.NewService(iam.Store, cheap, identity.DefaultHashLimits(), iam.Now); err != nil {
		f.Fatal(err)
	}
	if _, err := iam.Users.Create(ctx, "fuzz", "alice", fuzzPassword, nil); err != nil {
		f.Fatal(err)
	}
	h, err := iam.Handler(ctx, config.Config{
		Issuer: "gaia-iam", AccessTokenTTL: 15 * time.Minute, SigningKeyFile: testkit.SigningKeyFile(f),
		PublicURL: "http://iam.test", AllowPasswordGrant: true,
		Sessions: config.Sessions{RefreshTokenTTL: time.Hour, IdleTimeout: time.Hour},
	})
	if err != nil {
		f.Fatal(err)
	}
	rec := post(h, "/auth/login", "application/json", `{"username":"alice","password":"`+fuzzPassword+`"}`, "")
	var login struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &login); err != nil || login.RefreshToken == "" {
		f.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	return h, login.RefreshToken
}

func post(h http.Handler, path, contentType, body, authorization string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// checkAnswer fails unless rec is a success with an access token or a
// 4xx JSON error with a code and a message.
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("status %d with a body that is not a JSON object: %q", rec.Code, rec.Body)
	}
	switch {
	case rec.Code == http.StatusOK:
		if tok, _ := body["access_token"].(string); tok == "" {
			t.Fatalf("200 without an access token: %s", rec.Body)
		}
	case rec.Code >= 400 && rec.Code < 500:
		code, _ := body["error"].(string)
		msg, _ := body["message"].(string)
		if code == "" || msg == "" {
			t.Fatalf("%d without an error code and message: %s", rec.Code, rec.Body)
		}
	default:
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

func FuzzLogin(f *testing.F) {
	h, _ := fuzzAPI(f)
	f.Add(`{"username":"alice","password":"` + fuzzPassword + `"}`)
	f.Fuzz(func(t *testing.T, body string) {
		checkAnswer(t, post(h, "/auth/login", "application/json", body, ""))
	})
}

func FuzzRefresh(f *testing.F) {
	h, refresh := fuzzAPI(f)
	f.Add(`{"refresh_token":"` + refresh + `"}`)
	f.Fuzz(func(t *testing.T, body string) {
		checkAnswer(t, post(h, "/auth/refresh", "application/json", body, ""))
	})
}

// FuzzOAuthToken fuzzes the form and the Authorization header, where the
// client credentials of HTTP Basic are decoded.
func FuzzOAuthToken(f *testing.F) {
	h, refresh := fuzzAPI(f)
	f.Add("grant_type=refresh_token&refresh_token="+refresh, "")
	f.Add("grant_type=password&username=alice&password="+strings.ReplaceAll(fuzzPassword, " ", "+"), "")
	f.Fuzz(func(t *testing.T, body, authorization string) {
		checkAnswer(t, post(h, "/oauth/token", "application/x-www-form-urlencoded", body, authorization))
	})
}

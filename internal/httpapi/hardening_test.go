package httpapi_test

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

func TestSecurityHeaders_OnEveryResponse(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	e.WithUser("alice", alicePassword, "Viewer")
	srv := e.Serve()
	responses := map[string]testkit.Response{
		"healthz":           srv.Do(t, http.MethodGet, "/healthz", ""),
		"404":               srv.Do(t, http.MethodGet, "/no/such/thing", ""),
		"405":               srv.Do(t, http.MethodDelete, "/auth/login", ""),
		"login 401":         srv.Login(t, "alice", "not the password!"),
		"login 200":         srv.Login(t, "alice", alicePassword),
		"bad JSON 400":      srv.Do(t, http.MethodPost, "/auth/login", "{", "Content-Type", "application/json"),
		"oauth 400":         postToken(t, srv, form("grant_type", "nope")),
		"jwks":              srv.Do(t, http.MethodGet, "/.well-known/jwks.json", ""),
		"me without token":  srv.Do(t, http.MethodGet, "/auth/me", ""),
		"bundle":            srv.Do(t, http.MethodGet, "/bundles/gaia.tar.gz", ""),
		"discovery":         srv.Do(t, http.MethodGet, "/.well-known/openid-configuration", ""),
		"refresh 400":       srv.Refresh(t, ""),
		"password no token": srv.Do(t, http.MethodPost, "/auth/password", "{}"),
	}
	for name, r := range responses {
		for h, want := range map[string]string{
			"X-Content-Type-Options":  "nosniff",
			"X-Frame-Options":         "DENY",
			"Referrer-Policy":         "no-referrer",
			"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
		} {
			if got := r.Header.Get(h); got != want {
				t.Errorf("%s (%d): %s %q, want %q", name, r.Status, h, got, want)
			}
		}
		if hsts := r.Header.Get("Strict-Transport-Security"); hsts != "" {
			t.Errorf("%s: Strict-Transport-Security %q over plain HTTP to an http:// public URL", name, hsts)
		}
		token := strings.HasPrefix(name, "login") || strings.HasPrefix(name, "oauth") || strings.HasPrefix(name, "refresh") ||
			strings.HasPrefix(name, "password") || strings.HasPrefix(name, "me ")
		if token && (r.Header.Get("Cache-Control") != "no-store" || r.Header.Get("Pragma") != "no-cache") {
			t.Errorf("%s: Cache-Control %q, Pragma %q; want no-store, no-cache", name, r.Header.Get("Cache-Control"), r.Header.Get("Pragma"))
		}
	}
}

func TestSecurityHeaders_HSTSWhenThePublicURLIsHTTPS(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	srv := e.Serve("--public-url", "https://iam.example.com")
	for _, path := range []string{"/healthz", "/nowhere"} {
		if hsts := srv.Do(t, http.MethodGet, path, "").Header.Get("Strict-Transport-Security"); !strings.HasPrefix(hsts, "max-age=") {
			t.Errorf("%s: Strict-Transport-Security %q, want a max-age", path, hsts)
		}
	}
}

func TestBodyLimit_AppliesToFormPosts(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	srv := e.Serve("--allow-password-grant=true")
	big := form("grant_type", "password", "username", "alice", "password", strings.Repeat("x", 65<<10))
	assertOAuthError(t, postToken(t, srv, big), http.StatusRequestEntityTooLarge, "request_too_large")
	bigJSON := `{"username":"alice","password":"` + strings.Repeat("x", 65<<10) + `"}`
	testkit.AssertError(t, srv.Do(t, http.MethodPost, "/auth/login", bigJSON, "Content-Type", "application/json"),
		http.StatusRequestEntityTooLarge, "request_too_large")
}

// A slowloris client sends headers a byte at a time, or never finishes
// them, to hold connections open; the read-header timeout cuts it off.
func TestSlowloris_UnfinishedHeadersAreCutOff(t *testing.T) {
	t.Parallel()
	e := testkit.NewIAM(t)
	srv := e.Serve("--http-read-header-timeout", "500ms")
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := io.WriteString(conn, "POST /auth/login HTTP/1.1\r\nHost: iam\r\nX-Slow: "); err != nil {
		t.Fatal(err)
	}
	// Keep dribbling a byte now and then, never ending the headers.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				if _, err := conn.Write([]byte("a")); err != nil {
					return
				}
			}
		}
	}()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(conn)
	elapsed := time.Since(start)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection still open after %v of unfinished headers", elapsed)
	}
	if elapsed < 400*time.Millisecond || elapsed > 5*time.Second {
		t.Fatalf("connection closed after %v, want about the 500ms read-header timeout", elapsed)
	}
}

package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/testkit"
)

const (
	poll     = time.Second
	password = "correct horse battery staple"
)

// iamProxy stands between the example service and the IAM: it counts every
// request the IAM is asked, and can hand out a tampered bundle.
type iamProxy struct {
	srv    *httptest.Server
	hits   atomic.Int64
	tamper atomic.Bool
}

func newIAMProxy(t *testing.T, iamURL string) *iamProxy {
	t.Helper()
	p := &iamProxy{}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.hits.Add(1)
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, iamURL+r.URL.Path, nil)
		if !p.tamper.Load() {
			req.Header = r.Header.Clone()
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, "IAM unreachable", http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if p.tamper.Load() && r.URL.Path == "/bundles/gaia.tar.gz" && resp.StatusCode == http.StatusOK {
			body = grantInBundle(t, body, "Viewer", "inventory.write")
			resp.Header.Set("ETag", `"tampered"`)
		}
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(body)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// grantInBundle edits data.json inside a signed bundle, leaving the
// signature as it was: what an attacker on the wire would try.
func grantInBundle(t *testing.T, bundle []byte, role, permission string) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(bundle))
	if err != nil {
		t.Error(err)
		return bundle
	}
	tr := tar.NewReader(zr)
	var out bytes.Buffer
	zw := gzip.NewWriter(&out)
	tw := tar.NewWriter(zw)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		body, _ := io.ReadAll(tr)
		if h.Name == "/data.json" || h.Name == "data.json" {
			var data map[string]any
			_ = json.Unmarshal(body, &data)
			roles := data["gaia"].(map[string]any)["roles"].(map[string]any)
			roles[role] = append(roles[role].([]any), permission)
			body, _ = json.Marshal(data)
			h.Size = int64(len(body))
		}
		_ = tw.WriteHeader(h)
		_, _ = tw.Write(body)
	}
	_ = tw.Close()
	_ = zw.Close()
	return out.Bytes()
}

// startExample runs the example service against iamURL until the test ends.
func startExample(t *testing.T, iamURL string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	env := map[string]string{"IAM_URL": iamURL, "EXAMPLE_HTTP_ADDR": "127.0.0.1:0", "EXAMPLE_POLL_INTERVAL": poll.String()}
	listening := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, func(k string) string { return env[k] }, slog.New(slog.NewTextHandler(io.Discard, nil)), listening)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("example-inventory: %v", err)
		}
	})
	select {
	case addr := <-listening:
		return "http://" + addr
	case err := <-done:
		t.Fatalf("example-inventory stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("example-inventory did not listen within 10s")
	}
	return ""
}

func call(t *testing.T, base, method, token string) int {
	t.Helper()
	body := ""
	if method == http.MethodPost {
		body = `{"name": "widget", "quantity": 3}`
	}
	return testkit.Do(t, method, base+"/items", body, "Authorization", "Bearer "+token, "Content-Type", "application/json").Status
}

// TestExample_EnforcesPermissionsFromALiveIAM is the end-to-end
// story, in order, against a real IAM on PostgreSQL.
func TestExample_EnforcesPermissionsFromALiveIAM(t *testing.T) {
	iam := testkit.NewIAM(t)
	iam.WithUser("alice", password, "Analyst")
	iam.Must(password+"\n", "user", "create", "bob", "--password-stdin", "--role", "Viewer")
	srv := iam.Serve()
	proxy := newIAMProxy(t, srv.URL)
	ex := startExample(t, proxy.srv.URL)
	testkit.Eventually(t, 10*time.Second, "example-inventory loads its first bundle", func() bool {
		return testkit.Do(t, http.MethodGet, ex+"/healthz", "").Status == http.StatusOK
	})
	alice, bob := srv.Token(t, "alice", password), srv.Token(t, "bob", password)

	if got := call(t, ex, http.MethodGet, alice); got != http.StatusOK {
		t.Fatalf("Analyst GET /items: %d, want 200", got)
	}
	testkit.AssertError(t, testkit.Do(t, http.MethodPost, ex+"/items", `{"name":"x"}`, "Authorization", "Bearer "+alice), http.StatusForbidden, "forbidden")
	testkit.AssertError(t, testkit.Do(t, http.MethodGet, ex+"/items", ""), http.StatusUnauthorized, "invalid_token")

	// Decisions are local: the IAM sees only the background polls.
	before, start := proxy.hits.Load(), time.Now()
	for range 500 {
		if call(t, ex, http.MethodGet, alice) != http.StatusOK {
			t.Fatal("a decision changed under load")
		}
	}
	if got, bound := proxy.hits.Load()-before, 2*int64(time.Since(start)/poll+1); got > bound {
		t.Fatalf("the IAM received %d requests during 500 decisions; background polling explains at most %d", got, bound)
	}

	// A grant reaches the service within a poll, with no new login.
	iam.Must("", "role", "grant", "Analyst", "inventory.write")
	testkit.Eventually(t, 2*poll+time.Second, "the grant reaches the service", func() bool {
		return call(t, ex, http.MethodPost, alice) == http.StatusCreated
	})

	// A tampered bundle is refused and the last good one stays active.
	proxy.tamper.Store(true)
	time.Sleep(3 * poll)
	if got := call(t, ex, http.MethodPost, bob); got != http.StatusForbidden {
		t.Fatalf("after a tampered bundle, Viewer POST: %d, want 403", got)
	}
	if got := call(t, ex, http.MethodPost, alice); got != http.StatusCreated {
		t.Fatalf("after a tampered bundle, Analyst POST: %d, want 201 from the last good bundle", got)
	}
	proxy.tamper.Store(false)

	// Taking the role away voids alice's token within a poll.
	iam.Must("", "user", "remove-role", "alice", "Analyst")
	testkit.Eventually(t, 2*poll+time.Second, "the removal reaches the service", func() bool {
		return call(t, ex, http.MethodGet, alice) == http.StatusUnauthorized
	})

	// With the IAM stopped, the service keeps deciding from the last bundle.
	srv.Stop()
	time.Sleep(3 * poll)
	if call(t, ex, http.MethodGet, bob) != http.StatusOK || call(t, ex, http.MethodPost, bob) != http.StatusForbidden ||
		call(t, ex, http.MethodGet, alice) != http.StatusUnauthorized {
		t.Fatal("decisions changed while the IAM was down")
	}
	if testkit.Do(t, http.MethodGet, ex+"/healthz", "").Status != http.StatusOK {
		t.Fatal("the service reports unhealthy while the IAM is down")
	}
}

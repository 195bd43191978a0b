package testkit

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// The example inventory service exists once per language (cmd/
// example-inventory in Go, examples/django-inventory, examples/
// fastapi-inventory); each is held to the one story below, against a real
// IAM, through a proxy that counts and can tamper.

// InventoryPassword is the password of the story's users.
const InventoryPassword = "correct horse battery staple"

// InventoryService starts one implementation of the example inventory
// service against iamURL, polling every poll and keeping its last good
// bundle in cacheDir, and returns its base URL and a func that stops it
// (also called when the test ends; calling it twice is harmless).
type InventoryService func(t *testing.T, iamURL, cacheDir string, poll time.Duration) (base string, stop func())

// IAMProxy stands between a service and the IAM: it counts every request
// the IAM is asked, and can hand out a tampered bundle.
type IAMProxy struct {
	URL    string
	hits   atomic.Int64
	tamper atomic.Bool
}

// NewIAMProxy forwards to iamURL until the test ends.
func NewIAMProxy(t *testing.T, iamURL string) *IAMProxy {
	t.Helper()
	p := &IAMProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Hits is how many requests the proxy has forwarded.
func (p *IAMProxy) Hits() int64 { return p.hits.Load() }

// Tamper makes the proxy hand out bundles whose data.json grants Viewer
// inventory.write, the signature left as it was.
func (p *IAMProxy) Tamper(on bool) { p.tamper.Store(on) }

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

func itemsCall(t *testing.T, base, method, token string) int {
	t.Helper()
	body := ""
	if method == http.MethodPost {
		body = `{"name": "widget", "quantity": 3}`
	}
	return Do(t, method, base+"/items", body, "Authorization", "Bearer "+token, "Content-Type", "application/json").Status
}

// InventoryStory is the enforcement story, in order, against a real IAM
// (on the store IAM_TEST_STORE chooses): an Analyst reads but cannot
// write; no decision calls the IAM; a grant and a role removal reach the
// service within a poll with the same token; a tampered bundle is refused
// and the last good one stays; with the IAM stopped decisions do not
// change, and a service restarted from its cache directory decides the
// same before the IAM is back.
func InventoryStory(t *testing.T, start InventoryService) {
	const poll = time.Second
	iam := NewIAM(t)
	iam.WithUser("alice", InventoryPassword, "Analyst")
	iam.Must(InventoryPassword+"\n", "user", "create", "bob", "--password-stdin", "--role", "Viewer")
	srv := iam.Serve()
	proxy := NewIAMProxy(t, srv.URL)
	cacheDir := t.TempDir()
	ex, stop := start(t, proxy.URL, cacheDir, poll)
	Eventually(t, 20*time.Second, "the service loads its first bundle", func() bool {
		return Do(t, http.MethodGet, ex+"/healthz", "").Status == http.StatusOK
	})
	alice, bob := srv.Token(t, "alice", InventoryPassword), srv.Token(t, "bob", InventoryPassword)

	if got := itemsCall(t, ex, http.MethodGet, alice); got != http.StatusOK {
		t.Fatalf("Analyst GET /items: %d, want 200", got)
	}
	AssertError(t, Do(t, http.MethodPost, ex+"/items", `{"name":"x"}`, "Authorization", "Bearer "+alice, "Content-Type", "application/json"),
		http.StatusForbidden, "forbidden")
	AssertError(t, Do(t, http.MethodGet, ex+"/items", ""), http.StatusUnauthorized, "invalid_token")

	// Decisions are local: the IAM sees only the background polls.
	before, began := proxy.Hits(), time.Now()
	for range 500 {
		if itemsCall(t, ex, http.MethodGet, alice) != http.StatusOK {
			t.Fatal("a decision changed under load")
		}
	}
	if got, bound := proxy.Hits()-before, 2*int64(time.Since(began)/poll+1); got > bound {
		t.Fatalf("the IAM received %d requests during 500 decisions; background polling explains at most %d", got, bound)
	}

	// A grant reaches the service within a poll, with no new login.
	iam.Must("", "role", "grant", "Analyst", "inventory.write")
	Eventually(t, 2*poll+2*time.Second, "the grant reaches the service", func() bool {
		return itemsCall(t, ex, http.MethodPost, alice) == http.StatusCreated
	})

	// A tampered bundle is refused and the last good one stays active.
	proxy.Tamper(true)
	time.Sleep(3 * poll)
	if got := itemsCall(t, ex, http.MethodPost, bob); got != http.StatusForbidden {
		t.Fatalf("after a tampered bundle, Viewer POST: %d, want 403", got)
	}
	if got := itemsCall(t, ex, http.MethodPost, alice); got != http.StatusCreated {
		t.Fatalf("after a tampered bundle, Analyst POST: %d, want 201 from the last good bundle", got)
	}
	proxy.Tamper(false)

	// Taking the role away voids alice's token within a poll.
	iam.Must("", "user", "remove-role", "alice", "Analyst")
	Eventually(t, 2*poll+2*time.Second, "the removal reaches the service", func() bool {
		return itemsCall(t, ex, http.MethodGet, alice) == http.StatusUnauthorized
	})

	// With the IAM stopped, the service keeps deciding from the last
	// bundle, and so does a new process started from its cache.
	srv.Stop()
	time.Sleep(3 * poll)
	unchanged := func(ex string) bool {
		return itemsCall(t, ex, http.MethodGet, bob) == http.StatusOK && itemsCall(t, ex, http.MethodPost, bob) == http.StatusForbidden &&
			itemsCall(t, ex, http.MethodGet, alice) == http.StatusUnauthorized &&
			Do(t, http.MethodGet, ex+"/healthz", "").Status == http.StatusOK
	}
	if !unchanged(ex) {
		t.Fatal("decisions changed while the IAM was down")
	}
	stop()
	restarted, _ := start(t, proxy.URL, cacheDir, poll)
	Eventually(t, 20*time.Second, "the restarted service decides from its cache with the IAM down", func() bool {
		return unchanged(restarted)
	})
}

package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/httpapi"
	"github.com/gaia-platform/iam/internal/testkit"
)

// adminRoutes is the admin part of the server's route table, with path
// parameters filled in by values no resource has.
func adminRoutes() []gin.RouteInfo {
	engine := httpapi.New(httpapi.Deps{Log: slog.New(slog.DiscardHandler)}).(*gin.Engine)
	var out []gin.RouteInfo
	for _, r := range engine.Routes() {
		if !strings.HasPrefix(r.Path, "/admin/v1/") {
			continue
		}
		var segs []string
		for _, s := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(s, ":") {
				s = "00000000-0000-4000-8000-000000000000"
			}
			segs = append(segs, s)
		}
		r.Path = strings.Join(segs, "/")
		out = append(out, r)
	}
	return out
}

func TestAdmin_EveryRouteRefusesNonAdminsAndAdmitsAdmins(t *testing.T) {
	t.Parallel()
	_, srv := adminIAM(t)
	alice := srv.Token(t, "alice", alicePassword)
	root := srv.Token(t, "root", rootPassword)
	routes := adminRoutes()
	if len(routes) < 25 {
		t.Fatalf("%d admin routes in the route table, want the whole admin API", len(routes))
	}
	for _, r := range routes {
		what := r.Method + " " + r.Path
		resp := srv.Do(t, r.Method, r.Path, "{}", "Content-Type", "application/json")
		testkit.AssertError(t, resp, http.StatusUnauthorized, "invalid_token")
		if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s without a token: WWW-Authenticate %q", what, resp.Header.Get("WWW-Authenticate"))
		}
		resp = srv.Do(t, r.Method, r.Path, "{}", "Content-Type", "application/json", "Authorization", "Bearer not.a.token")
		testkit.AssertError(t, resp, http.StatusUnauthorized, "invalid_token")

		resp = srv.Do(t, r.Method, r.Path, "{}", "Content-Type", "application/json", "Authorization", "Bearer "+alice)
		if resp.Status != http.StatusForbidden {
			t.Errorf("%s as alice (Analyst): %d %s, want 403", what, resp.Status, resp.Body)
			continue
		}
		testkit.AssertError(t, resp, http.StatusForbidden, "forbidden")

		resp = srv.Do(t, r.Method, r.Path, "{}", "Content-Type", "application/json", "Authorization", "Bearer "+root)
		if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden || resp.Status >= 500 {
			t.Errorf("%s as root: %d %s, want the route's own answer", what, resp.Status, resp.Body)
		}
	}
}

// Text PostgreSQL cannot store (a NUL, bytes that are not UTF-8) is a
// 400 wherever a request carries it, never a 500 from the store.
func TestAdmin_TextThatCannotBeStoredIsABadRequest(t *testing.T) {
	t.Parallel()
	e, srv := adminIAM(t)
	root := srv.Token(t, "root", rootPassword)
	for _, r := range adminRoutes() {
		for _, bad := range []string{"%F9", "a%00b"} {
			if strings.Contains(r.Path, "00000000-0000-4000-8000-000000000000") {
				path := strings.ReplaceAll(r.Path, "00000000-0000-4000-8000-000000000000", bad)
				t.Run(r.Method+" "+path, func(t *testing.T) {
					testkit.AssertError(t, srv.Do(t, r.Method, path, "{}", "Authorization", "Bearer "+root), http.StatusBadRequest, "invalid_request")
				})
			}
			t.Run(r.Method+" "+r.Path+"?search="+bad, func(t *testing.T) {
				testkit.AssertError(t, srv.Do(t, r.Method, r.Path+"?search="+bad, "{}", "Authorization", "Bearer "+root), http.StatusBadRequest, "invalid_request")
			})
		}
	}
	// A cursor is base64 of a key: one that decodes to such text is not a
	// cursor this API returned.
	for _, key := range []string{"\xf9", "a\x00b"} {
		for _, list := range []string{"/users", "/roles", "/permissions", "/service-accounts", "/revocations", "/audit-events", "/decision-logs"} {
			path := list + "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte(key))
			t.Run("GET "+path, func(t *testing.T) {
				testkit.AssertError(t, srv.Admin(t, root, http.MethodGet, path, ""), http.StatusBadRequest, "invalid_request")
			})
		}
	}
	for path, body := range map[string]string{
		"/users":            `{"username":"bob\u0000","password":"` + alicePassword + `"}`,
		"/roles":            `{"name":"Ops","description":"on\u0000call"}`,
		"/permissions":      `{"code":"ops.page","description":"x\u0000"}`,
		"/service-accounts": `{"name":"billing","roles":["Viewer\u0000"]}`,
		"/revocations":      `{"jti":"\u0000"}`,
	} {
		t.Run("POST "+path, func(t *testing.T) {
			testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, path, body), http.StatusBadRequest, "invalid_request")
		})
	}
	// Nothing was created.
	for _, cmd := range [][]string{{"user", "list"}, {"role", "list"}, {"service", "list"}} {
		if out := e.Must("", cmd...); strings.Contains(out, "bob") || strings.Contains(out, "Ops") || strings.Contains(out, "billing") {
			t.Fatalf("iam %s after refused requests:\n%s", strings.Join(cmd, " "), out)
		}
	}
}

func TestAdmin_RevokedTokenAndWithdrawnPermissionAreRefusedAtTheNextBundle(t *testing.T) {
	t.Parallel()
	e, srv := adminIAM(t)
	root := srv.Token(t, "root", rootPassword)
	other := srv.Token(t, "root", rootPassword)
	srv.MustAdmin(t, root, http.MethodGet, "/users", "", http.StatusOK)

	// Revoking a token through the admin API refuses it there like anywhere.
	jti := claimsOf(t, root)["jti"].(string)
	srv.MustAdmin(t, other, http.MethodPost, "/revocations", `{"jti":"`+jti+`"}`, http.StatusCreated)
	testkit.Eventually(t, 5*time.Second, "the revoked token is refused", func() bool {
		return srv.Admin(t, root, http.MethodGet, "/users", "").Status == http.StatusUnauthorized
	})
	testkit.AssertError(t, srv.Admin(t, root, http.MethodGet, "/users", ""), http.StatusUnauthorized, "invalid_token")
	srv.MustAdmin(t, other, http.MethodGet, "/users", "", http.StatusOK)

	// A role that loses a permission loses it for tokens already issued.
	e.Must("", "seed", "--file", testkit.WriteFile(t, "support.yaml", `
permissions:
  - code: iam.users.read
roles:
  - name: Support
    permissions: [iam.users.read]
users:
  - username: alice
    roles: [Analyst, Support]
`))
	alice := srv.Token(t, "alice", alicePassword)
	testkit.Eventually(t, 5*time.Second, "Support may read users", func() bool {
		return srv.Admin(t, alice, http.MethodGet, "/users", "").Status == http.StatusOK
	})
	e.Must("", "role", "revoke", "Support", "iam.users.read")
	testkit.Eventually(t, 5*time.Second, "Support no longer reads users", func() bool {
		return srv.Admin(t, alice, http.MethodGet, "/users", "").Status == http.StatusForbidden
	})
}

// page is one page of a list.
type page struct {
	Items      []map[string]any `json:"items"`
	NextCursor string           `json:"next_cursor"`
}

// walk reads every page of path with limit, returning what field holds in
// each item, in order, and the number of pages.
func walk(t *testing.T, srv *testkit.Server, token, path string, limit int, field string) ([]string, int) {
	t.Helper()
	var out []string
	cursor, pages := "", 0
	for {
		q := url.Values{"limit": {strconv.Itoa(limit)}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		r := srv.MustAdmin(t, token, http.MethodGet, path+sep+q.Encode(), "", http.StatusOK)
		var p page
		if err := json.Unmarshal(r.Body, &p); err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Items) > limit {
			t.Fatalf("%s: %d items on a page of %d", path, len(p.Items), limit)
		}
		for _, it := range p.Items {
			out = append(out, str(it[field]))
		}
		if p.NextCursor == "" {
			return out, pages
		}
		cursor = p.NextCursor
	}
}

func TestAdmin_Users(t *testing.T) {
	t.Parallel()
	e, srv := adminIAM(t)
	root := srv.Token(t, "root", rootPassword)
	rootActor := "user:" + e.UserID("root")

	r := srv.MustAdmin(t, root, http.MethodPost, "/users", `{"username":"Bob","password":"`+alicePassword+`","roles":["viewer"]}`, http.StatusCreated)
	bob := r.JSON(t)
	id := str(bob["id"])
	if bob["username"] != "Bob" || bob["state"] != "active" || r.Header.Get("Location") != "/admin/v1/users/"+id {
		t.Fatalf("created %s (Location %q)", r.Body, r.Header.Get("Location"))
	}
	testkit.AssertStrings(t, "bob's roles", bob["roles"], "Viewer")
	if strings.Contains(string(r.Body), "argon2") || strings.Contains(string(r.Body), alicePassword) {
		t.Fatalf("user view shows the password or its hash: %s", r.Body)
	}
	for _, tc := range []struct {
		body, code string
		status     int
	}{
		{`{"username":"BOB","password":"` + alicePassword + `"}`, "conflict", http.StatusConflict},
		{`{"username":"","password":"` + alicePassword + `"}`, "invalid_request", http.StatusBadRequest},
		{`{"username":"carol","password":"short"}`, "invalid_request", http.StatusBadRequest},
		{`{"username":"carol","password":"carol-likes-long-passwords"}`, "invalid_request", http.StatusBadRequest},
		{`{"username":"carol","password":"qwertyuiop123"}`, "invalid_request", http.StatusBadRequest},
		{`{"username":"carol","roles":["Nobody"]}`, "invalid_request", http.StatusBadRequest},
		{`{"username":"carol","roles":"Viewer"}`, "invalid_request", http.StatusBadRequest},
		{`not json`, "invalid_request", http.StatusBadRequest},
	} {
		testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/users", tc.body), tc.status, tc.code)
	}
	testkit.AssertError(t, srv.Admin(t, root, http.MethodGet, "/users/carol", ""), http.StatusNotFound, "not_found")

	got := srv.MustAdmin(t, root, http.MethodGet, "/users/"+id, "", http.StatusOK).JSON(t)
	if got["username"] != "Bob" {
		t.Errorf("GET user: %v", got)
	}
	srv.MustAdmin(t, root, http.MethodPut, "/users/"+id+"/roles/analyst", "", http.StatusOK)
	got = srv.MustAdmin(t, root, http.MethodDelete, "/users/"+id+"/roles/Viewer", "", http.StatusOK).JSON(t)
	testkit.AssertStrings(t, "bob's roles after the changes", got["roles"], "Analyst")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPut, "/users/"+id+"/roles/Nobody", ""), http.StatusNotFound, "not_found")

	got = srv.MustAdmin(t, root, http.MethodPost, "/users/"+id+"/disable", "", http.StatusOK).JSON(t)
	if got["state"] != "disabled" {
		t.Errorf("after disable: %v", got)
	}
	testkit.AssertError(t, srv.Login(t, "bob", alicePassword), http.StatusUnauthorized, "invalid_credentials")
	got = srv.MustAdmin(t, root, http.MethodPost, "/users/"+id+"/enable", "", http.StatusOK).JSON(t)
	if got["state"] != "active" {
		t.Errorf("after enable: %v", got)
	}
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/users/"+id+"/password", `{"password":"short"}`), http.StatusBadRequest, "invalid_request")
	srv.MustAdmin(t, root, http.MethodPost, "/users/"+id+"/password", `{"password":"a brand new passphrase"}`, http.StatusNoContent)
	testkit.AssertError(t, srv.Login(t, "bob", alicePassword), http.StatusUnauthorized, "invalid_credentials")
	srv.Token(t, "bob", "a brand new passphrase")

	// Every change is in the audit trail, by root, none with a secret.
	events := auditEvents(t, srv, root, "/audit-events?actor=root&limit=200")
	var actions []string
	for _, ev := range events {
		if ev["actor"] != rootActor {
			t.Errorf("event by %v, want %s", ev["actor"], rootActor)
		}
		if ev["target"] == "user:"+id {
			actions = append(actions, str(ev["action"]))
		}
	}
	slices.Reverse(actions)
	wantActions := []string{"user.created", "user.role.added", "user.role.removed", "user.disabled", "user.enabled", "user.password.set"}
	if !slices.Equal(actions, wantActions) {
		t.Errorf("root's actions on bob, oldest first: %q, want %q", actions, wantActions)
	}
	raw := srv.MustAdmin(t, root, http.MethodGet, "/audit-events?limit=200", "", http.StatusOK).Body
	if strings.Contains(string(raw), "brand new passphrase") || strings.Contains(string(raw), alicePassword) {
		t.Error("the audit trail shows a password")
	}
}

func auditEvents(t *testing.T, srv *testkit.Server, token, path string) []map[string]any {
	t.Helper()
	var p page
	if err := json.Unmarshal(srv.MustAdmin(t, token, http.MethodGet, path, "", http.StatusOK).Body, &p); err != nil {
		t.Fatal(err)
	}
	return p.Items
}

func TestAdmin_ListsPageAndSearch(t *testing.T) {
	t.Parallel()
	e, srv := adminIAM(t)
	for _, name := range []string{"dora", "Ed", "xavier", "Edna", "fred"} {
		e.Must(alicePassword+"\n", "user", "create", name, "--password-stdin")
	}
	root := srv.Token(t, "root", rootPassword)

	all, pages := walk(t, srv, root, "/users", 3, "username")
	if want := []string{"alice", "dora", "Ed", "Edna", "fred", "root", "xavier"}; !slices.Equal(all, want) || pages != 3 {
		t.Errorf("users by pages of 3: %q in %d pages, want %q in 3", all, pages, want)
	}
	found, _ := walk(t, srv, root, "/users?search=ED", 1, "username")
	if want := []string{"Ed", "Edna", "fred"}; !slices.Equal(found, want) {
		t.Errorf("search ED: %q, want %q", found, want)
	}
	roles, pages := walk(t, srv, root, "/roles", 2, "name")
	if want := []string{"Admin", "Analyst", "Viewer", "iam-admin", "iam-decision-logger"}; !slices.Equal(roles, want) || pages != 3 {
		t.Errorf("roles: %q in %d pages, want %q in 3", roles, pages, want)
	}
	perms, _ := walk(t, srv, root, "/permissions", 5, "code")
	if len(perms) != 8 || !slices.IsSorted(perms) {
		t.Errorf("permissions %q, want the 8 sorted", perms)
	}
	// Audit events, newest first, across pages, none twice.
	ids, pages := walk(t, srv, root, "/audit-events?type=user.created", 2, "target")
	if len(ids) != 7 || pages != 4 {
		t.Errorf("user.created events: %d in %d pages, want 7 in 4", len(ids), pages)
	}
	first := auditEvents(t, srv, root, "/audit-events?type=user.created&limit=1")
	if first[0]["details"].(map[string]any)["username"] != "fred" {
		t.Errorf("newest user.created is %v, want fred's", first[0]["details"])
	}
	since := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if evs := auditEvents(t, srv, root, "/audit-events?since="+since); len(evs) != 0 {
		t.Errorf("%d events since an hour from now", len(evs))
	}

	for _, path := range []string{"/users?limit=0", "/users?limit=201", "/users?limit=x", "/users?cursor=***", "/roles?cursor=!",
		"/audit-events?since=yesterday", "/audit-events?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("x"))} {
		testkit.AssertError(t, srv.Admin(t, root, http.MethodGet, path, ""), http.StatusBadRequest, "invalid_request")
	}
}

func TestAdmin_RolesAndPermissions(t *testing.T) {
	t.Parallel()
	e, srv := adminIAM(t)
	root := srv.Token(t, "root", rootPassword)

	srv.MustAdmin(t, root, http.MethodPost, "/permissions", `{"code":"billing.read","description":"See invoices"}`, http.StatusCreated)
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/permissions", `{"code":"billing.read"}`), http.StatusConflict, "conflict")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/permissions", `{"code":"Billing Read"}`), http.StatusBadRequest, "invalid_request")

	r := srv.MustAdmin(t, root, http.MethodPost, "/roles", `{"name":"ops/billing","description":"Billing clerks"}`, http.StatusCreated)
	if r.Header.Get("Location") != "/admin/v1/roles/ops%2Fbilling" {
		t.Errorf("Location %q", r.Header.Get("Location"))
	}
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/roles", `{"name":"OPS/BILLING"}`), http.StatusConflict, "conflict")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/roles", `{"name":""}`), http.StatusBadRequest, "invalid_request")

	role := "/roles/" + url.PathEscape("ops/billing")
	got := srv.MustAdmin(t, root, http.MethodPut, role+"/permissions/billing.read", "", http.StatusOK).JSON(t)
	testkit.AssertStrings(t, "permissions after grant", got["permissions"], "billing.read")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPut, role+"/permissions/billing.write", ""), http.StatusNotFound, "not_found")
	got = srv.MustAdmin(t, root, http.MethodPatch, role, `{"description":"Bills"}`, http.StatusOK).JSON(t)
	if got["description"] != "Bills" || got["name"] != "ops/billing" {
		t.Errorf("after PATCH: %v", got)
	}
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPatch, role, `{}`), http.StatusBadRequest, "invalid_request")

	// Deleting a permission takes it from the role that had it.
	srv.MustAdmin(t, root, http.MethodDelete, "/permissions/billing.read", "", http.StatusNoContent)
	got = srv.MustAdmin(t, root, http.MethodGet, role, "", http.StatusOK).JSON(t)
	testkit.AssertStrings(t, "permissions after the permission's deletion", got["permissions"])
	testkit.AssertError(t, srv.Admin(t, root, http.MethodDelete, "/permissions/billing.read", ""), http.StatusNotFound, "not_found")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodDelete, "/permissions/iam.users.read", ""), http.StatusConflict, "conflict")

	// The built-in role stays as it is.
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPatch, "/roles/iam-admin", `{"description":"x"}`), http.StatusConflict, "conflict")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodDelete, "/roles/iam-admin", ""), http.StatusConflict, "conflict")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodDelete, "/roles/iam-admin/permissions/iam.audit.read", ""), http.StatusConflict, "conflict")

	srv.MustAdmin(t, root, http.MethodDelete, role, "", http.StatusNoContent)
	testkit.AssertError(t, srv.Admin(t, root, http.MethodGet, role, ""), http.StatusNotFound, "not_found")

	want := map[string]string{"permission.created": "permission:billing.read", "role.created": "role:ops/billing",
		"role.permission.granted": "role:ops/billing", "role.updated": "role:ops/billing",
		"permission.deleted": "permission:billing.read", "role.deleted": "role:ops/billing"}
	rootActor := "user:" + e.UserID("root")
	for action, target := range want {
		evs := auditEvents(t, srv, root, "/audit-events?actor=root&type="+action)
		if len(evs) != 1 || evs[0]["actor"] != rootActor || evs[0]["target"] != target {
			t.Errorf("%s events %v, want one by %s on %s", action, evs, rootActor, target)
		}
	}
}

func TestAdmin_ServiceAccountsSessionsAndRevocations(t *testing.T) {
	t.Parallel()
	e, srv := adminIAM(t)
	root := srv.Token(t, "root", rootPassword)

	r := srv.MustAdmin(t, root, http.MethodPost, "/service-accounts", `{"name":"billing-job","roles":["viewer"]}`, http.StatusCreated)
	created := r.JSON(t)
	clientID, secret := str(created["client_id"]), str(created["client_secret"])
	if clientID == "" || len(secret) < 43 || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("created %s", r.Body)
	}
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/service-accounts", `{"name":"billing-job"}`), http.StatusConflict, "conflict")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/service-accounts", `{"name":"Billing Job"}`), http.StatusBadRequest, "invalid_request")
	listed := srv.MustAdmin(t, root, http.MethodGet, "/service-accounts", "", http.StatusOK)
	if strings.Contains(string(listed.Body), secret) {
		t.Fatal("the listing shows the secret")
	}
	clientToken := func(secret string) int {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret}}
		return srv.Do(t, http.MethodPost, "/oauth/token", form.Encode(), "Content-Type", "application/x-www-form-urlencoded").Status
	}
	if st := clientToken(secret); st != http.StatusOK {
		t.Fatalf("client testkit.Credentials with the new secret: %d", st)
	}
	rotated := srv.MustAdmin(t, root, http.MethodPost, "/service-accounts/"+clientID+"/rotate-secret", "", http.StatusOK).JSON(t)
	if clientToken(secret) != http.StatusUnauthorized || clientToken(str(rotated["client_secret"])) != http.StatusOK {
		t.Error("after rotation the old secret should fail and the new one work")
	}
	got := srv.MustAdmin(t, root, http.MethodPost, "/service-accounts/"+clientID+"/disable", "", http.StatusOK).JSON(t)
	if got["state"] != "disabled" || clientToken(str(rotated["client_secret"])) != http.StatusUnauthorized {
		t.Errorf("after disable: %v", got)
	}
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/service-accounts/nope/disable", ""), http.StatusNotFound, "not_found")

	// Sessions: root ends one of alice's two.
	aliceID := e.UserID("alice")
	first, second := srv.LoginPair(t, "alice", alicePassword), srv.LoginPair(t, "alice", alicePassword)
	ids, _ := walk(t, srv, root, "/users/"+aliceID+"/sessions", 1, "id")
	if len(ids) != 2 {
		t.Fatalf("alice's sessions %q, want 2", ids)
	}
	family := srv.OldestSession(t, first.Access, ids)
	srv.MustAdmin(t, root, http.MethodDelete, "/users/"+aliceID+"/sessions/"+family, "", http.StatusNoContent)
	testkit.AssertError(t, srv.Admin(t, root, http.MethodDelete, "/users/"+aliceID+"/sessions/"+family, ""), http.StatusNotFound, "not_found")
	testkit.AssertError(t, srv.Refresh(t, first.Refresh), http.StatusUnauthorized, "invalid_grant")
	srv.MustRefresh(t, second.Refresh)

	// Revocations: every token alice holds, then one jti.
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/revocations", `{}`), http.StatusBadRequest, "invalid_request")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/revocations", `{"subject":"`+clientID+`","jti":"x"}`), http.StatusBadRequest, "invalid_request")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/revocations", `{"subject":"00000000-0000-4000-8000-000000000000"}`), http.StatusNotFound, "not_found")
	testkit.AssertError(t, srv.Admin(t, root, http.MethodPost, "/revocations", `{"jti":"j-1","expires_at":"2000-01-01T00:00:00Z"}`), http.StatusBadRequest, "invalid_request")
	srv.MustAdmin(t, root, http.MethodPost, "/revocations", `{"subject":"`+aliceID+`"}`, http.StatusCreated)
	srv.MustAdmin(t, root, http.MethodPost, "/revocations", `{"jti":"j-1"}`, http.StatusCreated)
	kinds, _ := walk(t, srv, root, "/revocations", 1, "type")
	subjects, _ := walk(t, srv, root, "/revocations", 10, "subject")
	if !slices.Contains(kinds, "token") || !slices.Contains(subjects, aliceID) || !slices.Contains(subjects, clientID) {
		t.Errorf("revocations: types %q, subjects %q; want j-1, alice (revoked) and the disabled account", kinds, subjects)
	}
	if n := len(e.AuditEvents("subject.revoked")); n != 1 {
		t.Errorf("%d subject.revoked events, want 1", n)
	}
}

package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzBearer fuzzes the Authorization header of a bearer route. Whatever
// the header, the answer is 200 or a 401 invalid_token JSON error with a
// Bearer challenge, and 200 only for alice's one live token: a logged-out
// (revoked) token, a tampered one or anything else is refused.
func FuzzBearer(f *testing.F) {
	h, _ := fuzzAPI(f)
	login := func() string {
		rec := post(h, "/auth/login", "application/json", `{"username":"alice","password":"`+fuzzPassword+`"}`, "")
		var body struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.AccessToken == "" {
			f.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
		return body.AccessToken
	}
	revoked := login()
	if rec := post(h, "/auth/logout", "application/json", "", "Bearer "+revoked); rec.Code != http.StatusNoContent {
		f.Fatalf("logout: %d %s", rec.Code, rec.Body)
	}
	live := login()
	f.Add("Bearer " + live)
	f.Add("bearer  " + live + " ")
	f.Add("Bearer " + revoked)
	f.Add("Bearer " + live[:len(live)-2])
	f.Add("Basic " + live)
	f.Add("Bearer")
	f.Fuzz(func(t *testing.T, authorization string) {
		req := httptest.NewRequest(http.MethodGet, "/auth/me", nil)
		req.Header.Set("Authorization", authorization)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		scheme, raw, _ := strings.Cut(authorization, " ")
		isLive := strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(raw) == live
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("status %d with a body that is not a JSON object: %q", rec.Code, rec.Body)
		}
		switch {
		case rec.Code == http.StatusOK && !isLive:
			t.Fatalf("200 for a token that is not the live one: %q", authorization)
		case rec.Code == http.StatusOK:
		case rec.Code == http.StatusUnauthorized && isLive:
			t.Fatalf("the live token was refused: %s", rec.Body)
		case rec.Code == http.StatusUnauthorized:
			if body["error"] != "invalid_token" || body["message"] == "" || rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatalf("401 without invalid_token, a message and a challenge: %s", rec.Body)
			}
		default:
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
	})
}

package console_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/testkit"
)

// BenchmarkConsole_UsersPage is one signed-in page view: the session
// read, the operator's access token signed, the policy asked for the
// page's and the navigation's permissions, a page of users and their
// roles read and rendered.
func BenchmarkConsole_UsersPage(b *testing.B) {
	e := testkit.NewIAM(b)
	e.Must("", "seed", "--file", testkit.ExampleSeed)
	e.Must(adminPassword+"\n", "createsuperuser", "--username", "root", "--password-stdin")
	for _, name := range []string{"ann", "ben", "cat", "dan", "eve", "fay", "gus", "hal", "ida", "jon"} {
		e.Must(userPassword+"\n", "user", "create", name, "--password-stdin", "--role", "Viewer")
	}
	s := e.Serve()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/console/login",
		strings.NewReader(url.Values{"username": {"root"}, "password": {adminPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", s.URL)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("login: %v %v", resp, err)
	}
	resp.Body.Close()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Get(s.URL + "/console/users")
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("users page: %v %v", resp, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

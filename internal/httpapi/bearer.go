package httpapi

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/tokens"
)

// Where requireToken keeps the verified claims and the raw token.
const (
	claimsKey   = "gaia.claims"
	rawTokenKey = "gaia.token"
)

// requireToken lets a request through only with a bearer token that a
// service loading the bundle would accept: it verifies the signature and
// claims, then asks the policy of the bundle being published whether the
// token is revoked (by jti, or by its subject's not-before, which a
// disabled account or a detected refresh reuse sets). The policy runs in
// process over the current revision: no query per request.
func (a *api) requireToken(c *gin.Context) {
	scheme, raw, ok := strings.Cut(c.GetHeader("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		a.fail(c, fmt.Errorf("%w: missing bearer token", tokens.ErrInvalidToken))
		return
	}
	raw = strings.TrimSpace(raw)
	claims, err := a.Verifier.Verify(raw)
	if err != nil {
		a.fail(c, err)
		return
	}
	d, err := a.Authorizer.Decide(c.Request.Context(), raw, "")
	if err != nil {
		a.fail(c, err)
		return
	}
	if problems := tokenProblems(d); len(problems) > 0 {
		a.fail(c, fmt.Errorf("%w: %s", tokens.ErrInvalidToken, problems))
		return
	}
	c.Set(claimsKey, claims)
	c.Set(rawTokenKey, raw)
	c.Next()
}

// tokenProblems is what d finds wrong with the token itself ("token
// revoked", "token expired", ...), leaving out a missing permission.
func tokenProblems(d bundle.Decision) string {
	problems := slices.DeleteFunc(slices.Clone(d.Reasons), func(r string) bool { return r == "permission_missing" })
	return strings.ReplaceAll(strings.Join(problems, ", "), "_", " ")
}

// syncBundle goes on every route that can revoke a token or change a
// grant: before the first byte of its answer, the bundle is brought up to
// date with what the handler committed, so that this replica refuses a
// token it has just revoked at once, not at the next poll (the other
// replicas follow within one poll). The client-credentials and password
// grants change nothing the bundle holds and skip it.
func (a *api) syncBundle(c *gin.Context) {
	if c.Request.Method == http.MethodGet || c.Request.Method == http.MethodHead {
		c.Next()
		return
	}
	w := &syncingWriter{ResponseWriter: c.Writer}
	w.sync = func() {
		if c.FullPath() == "/oauth/token" && c.Request.PostForm.Get("grant_type") != "refresh_token" {
			return
		}
		ctx, cancel := context.WithTimeout(c.Request.Context(), 5*time.Second)
		defer cancel()
		if err := a.SyncBundle(ctx); err != nil {
			// The change is committed; the background poll publishes it.
			a.Log.WarnContext(ctx, "policy bundle not refreshed after a change; the next poll will", "path", c.FullPath(), "err", err)
		}
	}
	c.Writer = w
	c.Next()
	// An answer with no body (c.Status) is written after the handlers.
	w.once.Do(w.sync)
}

// syncingWriter runs sync once, before anything of the answer is written.
type syncingWriter struct {
	gin.ResponseWriter
	once sync.Once
	sync func()
}

func (w *syncingWriter) WriteHeaderNow() {
	w.once.Do(w.sync)
	w.ResponseWriter.WriteHeaderNow()
}

func (w *syncingWriter) Write(b []byte) (int, error) {
	w.once.Do(w.sync)
	return w.ResponseWriter.Write(b)
}

func (w *syncingWriter) WriteString(s string) (int, error) {
	w.once.Do(w.sync)
	return w.ResponseWriter.WriteString(s)
}

package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

type principalCtxKey struct{}

// PrincipalFrom returns the caller that a Require or RequireHTTP middleware
// let through, or nil.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalCtxKey{}).(*Principal)
	return p
}

// Require is gin middleware that lets a request through only when its
// bearer token grants permission: 401 for a missing or invalid token, 403
// for a valid token lacking the permission, 503 while no bundle is loaded.
func (a *Authorizer) Require(permission string) gin.HandlerFunc {
	return func(c *gin.Context) {
		p, refusal := a.check(c.Request, permission)
		if refusal != nil {
			refusal.write(c.Writer)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), principalCtxKey{}, p))
		c.Next()
	}
}

// RequireHTTP is Require for net/http.
func (a *Authorizer) RequireHTTP(permission string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, refusal := a.check(r, permission)
		if refusal != nil {
			refusal.write(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalCtxKey{}, p)))
	})
}

// refusal is an error response: {"error","message"} with its status.
type refusal struct {
	status  int
	code    string
	message string
	header  [2]string
}

func (r *refusal) write(w http.ResponseWriter) {
	if r.header[0] != "" {
		w.Header().Set(r.header[0], r.header[1])
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(r.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": r.code, "message": r.message})
}

func (a *Authorizer) check(r *http.Request, permission string) (*Principal, *refusal) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return nil, &refusal{http.StatusUnauthorized, "invalid_token", "a bearer token is required", [2]string{"WWW-Authenticate", `Bearer realm="gaia"`}}
	}
	d, err := a.Authorize(r.Context(), token, permission)
	if err != nil {
		msg := "authorization is unavailable"
		if errors.Is(err, ErrNotReady) {
			msg = "authorization policy not loaded yet"
		}
		a.cfg.Logger.Warn("gaia sdk: request denied without a decision", "err", err)
		return nil, &refusal{http.StatusServiceUnavailable, "unavailable", msg, [2]string{"Retry-After", "1"}}
	}
	if !d.Allow {
		if i := slices.IndexFunc(d.Reasons, func(s string) bool { return strings.HasPrefix(s, "token_") }); i >= 0 {
			return nil, &refusal{http.StatusUnauthorized, "invalid_token", "token is " + strings.TrimPrefix(d.Reasons[i], "token_"),
				[2]string{"WWW-Authenticate", `Bearer realm="gaia", error="invalid_token"`}}
		}
		return nil, &refusal{status: http.StatusForbidden, code: "forbidden", message: "missing permission " + permission}
	}
	p, err := a.Principal(r.Context(), token)
	if err != nil {
		return nil, &refusal{http.StatusUnauthorized, "invalid_token", "token is not valid", [2]string{"WWW-Authenticate", `Bearer realm="gaia", error="invalid_token"`}}
	}
	return p, nil
}

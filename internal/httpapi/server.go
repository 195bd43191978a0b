// Package httpapi is Gaia IAM's HTTP interface: gin routes, request and
// response shapes, and the one place domain errors become status codes.
// It never logs request bodies or Authorization headers.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/authz"
	"github.com/gaia-platform/iam/internal/bundle"
	"github.com/gaia-platform/iam/internal/clientip"
	"github.com/gaia-platform/iam/internal/decisionlog"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/signin"
	"github.com/gaia-platform/iam/internal/tokens"
)

// maxBody bounds every request body.
const maxBody = 64 << 10

// Deps is what the HTTP API needs.
type Deps struct {
	Users     *identity.Service
	RBAC      *authz.Service
	Services  *serviceaccount.Service
	Verifier  *tokens.Verifier
	Keys      *tokens.Keyring
	Ready     func(context.Context) error // reports whether the database answers
	Bundle    func() *bundle.Signed       // the policy bundle to serve now
	IssuerID  string                      // the iss claim
	PublicURL string                      // base URL of this server
	// Log gets one line per request; those logged with a request's
	// context carry its request_id when its handler is requestid.Handler
	// (app.NewLogger's is).
	Log *slog.Logger
	// Signin signs users and clients in and out: /auth/login, /auth/refresh,
	// /auth/password, /auth/logout and /oauth/token's grants.
	Signin   *signin.Service
	Sessions *tokens.Sessions
	// Revocations voids tokens an administrator names.
	Revocations *tokens.Revoker
	Now         func() time.Time
	// AllowPasswordGrant enables grant_type=password at /oauth/token.
	AllowPasswordGrant bool
	// Authorizer decides bearer tokens and admin API requests by the
	// published policy.
	Authorizer *bundle.Authorizer
	// SyncBundle brings the published bundle up to date with the store
	// now, after a change made through this API.
	SyncBundle func(context.Context) error
	// ActiveRevocations reads the revocations in force now.
	ActiveRevocations func(context.Context) (bundle.Revocations, error)
	// AuditTrail reads the audit trail.
	AuditTrail   *audit.Trail
	DecisionLogs *decisionlog.Service
	// DecisionLogMaxBody bounds the (compressed) body of POST /logs,
	// which other bodies' bound would refuse.
	DecisionLogMaxBody int64
	// DecisionLogSubject resolves a ?subject= filter: a username or a
	// service account name to its id.
	DecisionLogSubject func(context.Context, string) (string, error)
	// Proxies are the peers whose X-Forwarded-For names the client.
	Proxies clientip.Proxies
	// HSTS sends Strict-Transport-Security on every response: the public
	// URL is https (a TLS request gets it regardless).
	HSTS bool
	// Console serves the admin console under /console/ (nil: none).
	Console http.Handler
	// Metrics serves GET /metrics (nil: 404, as when they are served on
	// a listener of their own).
	Metrics http.Handler
	// Requests hears of every request served (nil: nobody does).
	Requests RequestObserver
}

// RequestObserver is told of every request once it is answered, so that
// operators can count and time them (internal/metrics does). route is
// the route's template (/admin/v1/users/:id), "" when none matched; it
// never hears a path, a query or a client. Its method must be cheap.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, took time.Duration)
}

type api struct{ Deps }

// New returns the HTTP handler serving the whole API.
func New(d Deps) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	r := gin.New()
	// gin's own client IP reads only the first X-Forwarded-For line;
	// clientIP (the Proxies) reads them all.
	_ = r.SetTrustedProxies(nil)
	// Path parameters are matched escaped and then unescaped, so that a
	// role named "ops/oncall" is one segment: /admin/v1/roles/ops%2Foncall.
	r.UseRawPath = true
	r.HandleMethodNotAllowed = true
	a := &api{d}
	if d.Requests != nil {
		r.Use(a.observeRequests)
	}
	r.Use(nameSpan, a.resolveClientIP, a.securityHeaders, a.logRequests, a.recoverJSON, a.limitBody, requireTextParams)
	r.NoRoute(func(c *gin.Context) { writeError(c, http.StatusNotFound, "not_found", "no such endpoint") })
	r.NoMethod(func(c *gin.Context) {
		writeError(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this endpoint")
	})

	r.POST("/auth/login", a.login)
	r.GET("/auth/me", a.requireToken, a.me)
	r.POST("/oauth/token", a.syncBundle, a.oauthToken)
	r.POST("/oauth/revoke", a.syncBundle, a.oauthRevoke)
	r.POST("/auth/refresh", a.syncBundle, a.refresh)
	r.POST("/auth/logout", a.requireToken, a.syncBundle, a.logout)
	r.POST("/auth/password", a.requireToken, a.syncBundle, a.changePassword)
	r.GET("/auth/sessions", a.requireToken, a.listSessions)
	r.DELETE("/auth/sessions/:id", a.requireToken, a.syncBundle, a.endSession)
	r.GET("/.well-known/jwks.json", a.jwks)
	r.GET("/.well-known/openid-configuration", a.discovery)
	r.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	r.GET("/readyz", a.readyz)
	r.GET("/bundles/gaia.tar.gz", a.policyBundle)
	r.GET("/openapi.json", serveOpenAPI)
	r.GET("/metrics", a.metrics)
	a.adminRoutes(r)
	if d.Console != nil {
		r.Any("/console/*path", gin.WrapH(d.Console))
		r.GET("/console", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/console/") })
	}
	// Authorized like the admin API, by the published policy: a revoked
	// token, a disabled account or a withdrawn permission is refused.
	r.POST(decisionLogsPath, a.requireToken, a.requireServiceToken, a.authorize(decisionlog.Permission), a.uploadDecisionLogs)
	return r
}

// nameSpan names the request's trace span (when tracing is on) by its
// route, "POST /admin/v1/users/:id/disable", never by the path, which
// holds ids.
func nameSpan(c *gin.Context) {
	if span := trace.SpanFromContext(c.Request.Context()); span.IsRecording() && c.FullPath() != "" {
		span.SetName(c.Request.Method + " " + c.FullPath())
		span.SetAttributes(attribute.String("http.route", c.FullPath()))
	}
	c.Next()
}

// observeRequests runs first, so that it times every other middleware too.
func (a *api) observeRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	a.Requests.ObserveRequest(c.FullPath(), c.Request.Method, c.Writer.Status(), time.Since(start))
}

func (a *api) metrics(c *gin.Context) {
	if a.Metrics == nil {
		writeError(c, http.StatusNotFound, "not_found", "no such endpoint")
		return
	}
	a.Metrics.ServeHTTP(c.Writer, c.Request)
}

const clientIPKey = "gaia.client_ip"

// resolveClientIP finds the client's address once per request.
func (a *api) resolveClientIP(c *gin.Context) {
	c.Set(clientIPKey, a.Proxies.ClientIP(c.Request.RemoteAddr, c.Request.Header.Values("X-Forwarded-For")))
	c.Next()
}

// clientIP is the client's address: the TCP peer's, or when that is a
// trusted proxy the one X-Forwarded-For names.
func clientIP(c *gin.Context) string { return c.GetString(clientIPKey) }

// securityHeaders are on every response, errors included. The API serves
// JSON only: nothing of it may be framed, sniffed or run as a page.
func (a *api) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	if p := c.Request.URL.Path; strings.HasPrefix(p, "/auth/") || strings.HasPrefix(p, "/oauth/") {
		// Tokens and credentials: never cached (RFC 6749 §5.1).
		h.Set("Cache-Control", "no-store")
		h.Set("Pragma", "no-cache")
	}
	if a.HSTS || c.Request.TLS != nil {
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
	}
	c.Next()
}

func (a *api) recoverJSON(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			a.Log.ErrorContext(c.Request.Context(), "panic serving request", "path", c.Request.URL.Path, "panic", v)
			writeError(c, http.StatusInternalServerError, "internal_error", "internal server error")
		}
	}()
	c.Next()
}

func (a *api) limitBody(c *gin.Context) {
	limit := int64(maxBody)
	if c.FullPath() == decisionLogsPath {
		limit = a.DecisionLogMaxBody
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	c.Next()
}

func (a *api) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := a.Ready(ctx); err != nil {
		a.Log.WarnContext(ctx, "readiness check failed", "err", err)
		writeError(c, http.StatusServiceUnavailable, "not_ready", "database is unreachable")
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

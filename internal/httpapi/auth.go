package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/signin"
	"github.com/gaia-platform/iam/internal/tokens"
)

type loginRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	// RefreshToken is the session's current refresh token: opaque, kept
	// by the server only as a hash.
	RefreshToken string `json:"refresh_token,omitempty"`
}

func (a *api) login(c *gin.Context) {
	var req loginRequest
	if !decodeJSON(c, &req) {
		return
	}
	if req.Username == "" || req.Password == "" {
		writeError(c, http.StatusBadRequest, "invalid_request", "username and password are required")
		return
	}
	t, err := a.Signin.SignIn(c.Request.Context(), req.Username, req.Password, clientIP(c))
	if err != nil {
		a.fail(c, err)
		return
	}
	writeTokens(c, t)
}

// writeTokens answers the tokens of a grant. It is served under /auth/ or
// /oauth/, where securityHeaders forbids caching (RFC 6749 §5.1).
func writeTokens(c *gin.Context, t signin.Tokens) {
	c.JSON(http.StatusOK, tokenResponse{AccessToken: t.Access, TokenType: "Bearer",
		ExpiresIn: int64(t.ExpiresIn / time.Second), RefreshToken: t.Refresh})
}

type userView struct {
	ID          uuid.UUID  `json:"id"`
	Username    string     `json:"username"`
	State       string     `json:"state"`
	CreatedAt   time.Time  `json:"created_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
}

func (a *api) me(c *gin.Context) {
	claims := c.MustGet(claimsKey).(tokens.Claims)
	view := gin.H{"claims": claims}
	if claims.Type == tokens.TypeUser {
		id, err := uuid.Parse(claims.Subject)
		if err != nil {
			a.fail(c, fmt.Errorf("%w: subject is not a user id", tokens.ErrInvalidToken))
			return
		}
		u, err := a.Users.Active(c.Request.Context(), id)
		if errors.Is(err, identity.ErrNotActive) {
			a.fail(c, fmt.Errorf("%w: %v", tokens.ErrInvalidToken, err))
			return
		}
		if err != nil {
			a.fail(c, err)
			return
		}
		view["user"] = userView{ID: u.ID, Username: u.Username, State: string(u.State), CreatedAt: u.CreatedAt, LastLoginAt: u.LastLoginAt}
	}
	c.JSON(http.StatusOK, view)
}

func (a *api) jwks(c *gin.Context) {
	// Well under IAM_KEY_ROTATION_GRACE, so that a cached copy lists a
	// pending key before it signs.
	c.Header("Cache-Control", "public, max-age=60")
	c.JSON(http.StatusOK, a.Keys.At(a.Now()).JWKS())
}

// discovery is the provider metadata (OpenID Connect Discovery, RFC
// 8414 for revocation_endpoint): the standard
// members, then this server's own endpoints under names of their own.
func (a *api) discovery(c *gin.Context) {
	base := strings.TrimRight(a.PublicURL, "/")
	c.JSON(http.StatusOK, gin.H{
		"issuer":                                a.IssuerID,
		"jwks_uri":                              base + "/.well-known/jwks.json",
		"token_endpoint":                        base + "/oauth/token",
		"revocation_endpoint":                   base + "/oauth/revoke",
		"userinfo_endpoint":                     base + "/auth/me",
		"grant_types_supported":                 a.grantTypes(),
		"token_endpoint_auth_methods_supported": clientAuthMethods,
		"revocation_endpoint_auth_methods_supported": clientAuthMethods,
		"id_token_signing_alg_values_supported":      []string{"RS256"},
		"claims_supported":                           []string{"iss", "sub", "username", "type", "roles", "permissions", "iat", "exp", "jti"},
		"login_endpoint":                             base + "/auth/login",
		"refresh_endpoint":                           base + "/auth/refresh",
		"logout_endpoint":                            base + "/auth/logout",
		"sessions_endpoint":                          base + "/auth/sessions",
		"policy_bundle_endpoint":                     base + "/bundles/gaia.tar.gz",
	})
}

// clientAuthMethods are how a client may authenticate at /oauth/token and
// /oauth/revoke: "none" is a public client, which the refresh_token and
// password grants and revocation accept.
var clientAuthMethods = []string{"client_secret_basic", "client_secret_post", "none"}

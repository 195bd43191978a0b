package httpapi

import (
	"encoding/base64"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/problem"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/signin"
)

// oauthErrorBody is an RFC 6749 §5.2 error. It carries message too, the
// same text as error_description, so that clients of the rest of the API
// read it as they read every other error.
type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
	Message     string `json:"message"`
}

func writeOAuthError(c *gin.Context, status int, code, description string) {
	if code == "invalid_client" {
		c.Header("WWW-Authenticate", `Basic realm="gaia-iam", charset="UTF-8"`)
	}
	c.AbortWithStatusJSON(status, oauthErrorBody{Error: code, Description: description, Message: description})
}

// oauthToken is the RFC 6749 token endpoint: client_credentials for
// service accounts, refresh_token for users' sessions and, when enabled,
// password for users.
func (a *api) oauthToken(c *gin.Context) {
	form, ok := a.tokenForm(c)
	if !ok {
		return
	}
	switch form.Get("grant_type") {
	case "":
		writeOAuthError(c, http.StatusBadRequest, "invalid_request", "grant_type is required")
	case "client_credentials":
		a.clientCredentialsGrant(c, form)
	case "refresh_token":
		a.refreshTokenGrant(c, form)
	case "password":
		if !a.AllowPasswordGrant {
			writeOAuthError(c, http.StatusBadRequest, "unsupported_grant_type", "the password grant is not enabled on this server")
			return
		}
		a.passwordGrant(c, form)
	default:
		writeOAuthError(c, http.StatusBadRequest, "unsupported_grant_type", "supported grant types: "+strings.Join(a.grantTypes(), ", "))
	}
}

// tokenForm reads the form-encoded body, answering itself when it is
// larger than maxBody (413, before any parameter is looked at) and with
// 400 when it is not a form, repeats a parameter (RFC 6749 §3.2) or holds
// one that is not text.
func (a *api) tokenForm(c *gin.Context) (url.Values, bool) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		writeOAuthError(c, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return nil, false
	}
	// Request.ParseForm, unlike gin's PostForm, returns the error of a
	// body cut off at the limit.
	if err := c.Request.ParseForm(); err != nil {
		if isTooLarge(err) {
			writeOAuthError(c, http.StatusRequestEntityTooLarge, "request_too_large", tooLargeMessage)
		} else {
			writeOAuthError(c, http.StatusBadRequest, "invalid_request", "the body is not a valid form")
		}
		return nil, false
	}
	for name, vals := range c.Request.PostForm {
		switch {
		case len(vals) > 1:
			writeOAuthError(c, http.StatusBadRequest, "invalid_request", "parameter "+name+" is repeated")
			return nil, false
		case !isText(name) || !isText(vals[0]):
			writeOAuthError(c, http.StatusBadRequest, "invalid_request", "form parameters"+notTextMessage)
			return nil, false
		}
	}
	return c.Request.PostForm, true
}

// clientCredentials returns the client id and secret, sent by HTTP Basic
// (form-urlencoded inside, RFC 6749 §2.3.1) or as form fields, and whether
// the client sent any. Both at once is an invalid request.
func clientCredentials(c *gin.Context, form url.Values) (id, secret string, sent bool, problem string) {
	basicID, basicSecret, basic := c.Request.BasicAuth()
	formSent := form.Has("client_id") || form.Has("client_secret")
	switch {
	case basic && form.Has("client_secret"):
		return "", "", true, "send the client secret by one method only, HTTP Basic or the form"
	case basic:
		id, err1 := url.QueryUnescape(basicID)
		secret, err2 := url.QueryUnescape(basicSecret)
		if err1 != nil || err2 != nil {
			return "", "", true, "the Basic client_id and client_secret must be form-urlencoded (RFC 6749 §2.3.1)"
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return "", "", true, "client_id in the form differs from the HTTP Basic one"
		}
		return id, secret, true, ""
	case c.GetHeader("Authorization") != "":
		return "", "", true, basicProblem(c.GetHeader("Authorization"))
	}
	return form.Get("client_id"), form.Get("client_secret"), formSent, ""
}

// basicProblem says what is wrong with an Authorization header that
// Request.BasicAuth refused.
func basicProblem(authorization string) string {
	scheme, credentials, _ := strings.Cut(authorization, " ")
	if !strings.EqualFold(scheme, "Basic") {
		return "unsupported Authorization scheme: use HTTP Basic"
	}
	if _, err := base64.StdEncoding.DecodeString(credentials); err != nil {
		return "the Basic credentials are not base64"
	}
	return "the Basic credentials must be client_id:client_secret"
}

func (a *api) clientCredentialsGrant(c *gin.Context, form url.Values) {
	id, secret, sent, problem := clientCredentials(c, form)
	switch {
	case problem != "":
		writeOAuthError(c, http.StatusUnauthorized, "invalid_client", problem)
		return
	case !sent || id == "" || secret == "":
		writeOAuthError(c, http.StatusUnauthorized, "invalid_client", "client authentication is required: client_id and client_secret by HTTP Basic or in the form")
		return
	}
	t, err := a.Signin.SignInClient(c.Request.Context(), id, secret, clientIP(c))
	a.answerOAuth(c, t, err)
}

// optionalClient checks the client authentication that a public client
// may omit: none is accepted, but credentials that are sent must be
// valid. It answers the request itself when they are not.
func (a *api) optionalClient(c *gin.Context, form url.Values) bool {
	id, secret, sent, problem := clientCredentials(c, form)
	if problem != "" {
		writeOAuthError(c, http.StatusUnauthorized, "invalid_client", problem)
		return false
	}
	if sent && secret != "" {
		if _, _, err := a.Services.Authenticate(c.Request.Context(), id, secret, clientIP(c)); err != nil {
			a.oauthFail(c, err)
			return false
		}
	}
	return true
}

// passwordGrant checks a user's password as /auth/login does and opens a
// session: the answer carries its refresh token.
func (a *api) passwordGrant(c *gin.Context, form url.Values) {
	if !a.optionalClient(c, form) {
		return
	}
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" {
		writeOAuthError(c, http.StatusBadRequest, "invalid_request", "username and password are required")
		return
	}
	t, err := a.Signin.SignIn(c.Request.Context(), username, password, clientIP(c))
	a.answerOAuth(c, t, err)
}

// refreshTokenGrant is RFC 6749 §6, the same exchange as /auth/refresh:
// the presented token is spent, and presenting a spent one again
// revokes its session and the user's access tokens.
func (a *api) refreshTokenGrant(c *gin.Context, form url.Values) {
	if !a.optionalClient(c, form) {
		return
	}
	raw := form.Get("refresh_token")
	if raw == "" {
		writeOAuthError(c, http.StatusBadRequest, "invalid_request", "refresh_token is required")
		return
	}
	t, err := a.Signin.Refresh(c.Request.Context(), raw, clientIP(c))
	a.answerOAuth(c, t, err)
}

// answerOAuth answers a grant's outcome.
func (a *api) answerOAuth(c *gin.Context, t signin.Tokens, err error) {
	if err != nil {
		a.oauthFail(c, err)
		return
	}
	writeTokens(c, t)
}

// oauthRevoke is RFC 7009 token revocation. Possession of a token is the
// credential to revoke it, so public clients need not authenticate; a
// client that does must do so correctly. An access token of this issuer
// is revoked by its jti until it expires, a refresh token with its whole
// session. Whatever the token, the answer is 200 with no body: unknown,
// expired and already revoked tokens have nothing left to revoke. The
// token_type_hint is ignored: the two kinds cannot be mistaken for each
// other.
func (a *api) oauthRevoke(c *gin.Context) {
	form, ok := a.tokenForm(c)
	if !ok || !a.optionalClient(c, form) {
		return
	}
	raw := form.Get("token")
	if raw == "" {
		writeOAuthError(c, http.StatusBadRequest, "invalid_request", "token is required")
		return
	}
	if err := a.Signin.Revoke(c.Request.Context(), raw, clientIP(c)); err != nil {
		a.oauthFail(c, err)
		return
	}
	c.Status(http.StatusOK)
}

// oauthFail maps a domain error to its RFC 6749 error. Unknown errors are
// logged and answered with a server_error that reveals nothing.
func (a *api) oauthFail(c *gin.Context, err error) {
	p := problem.Of(err)
	switch {
	case errors.Is(err, serviceaccount.ErrInvalidClient):
		writeOAuthError(c, http.StatusUnauthorized, "invalid_client", "client authentication failed")
	case p.Code == "too_many_attempts":
		c.Header("Retry-After", p.RetryAfter)
		// RFC 6749 has no code for this; invalid_grant would send the
		// client back for credentials it may already have right.
		writeOAuthError(c, p.Status, p.Code, p.Message)
	case p.Code == "invalid_credentials", p.Code == "invalid_grant":
		writeOAuthError(c, http.StatusBadRequest, "invalid_grant", p.Message)
	case p.Code == "unavailable":
		c.Header("Retry-After", p.RetryAfter)
		writeOAuthError(c, p.Status, "temporarily_unavailable", p.Message)
	case p.Code == "overloaded":
		// RFC 6749 registers temporarily_unavailable for this condition.
		c.Header("Retry-After", p.RetryAfter)
		writeOAuthError(c, p.Status, "temporarily_unavailable", p.Message)
	default:
		a.Log.ErrorContext(c.Request.Context(), "request failed", "path", c.Request.URL.Path, "err", err)
		writeOAuthError(c, http.StatusInternalServerError, "server_error", "internal server error")
	}
}

// grantTypes are the grants /oauth/token accepts.
func (a *api) grantTypes() []string {
	g := []string{"client_credentials", "refresh_token"}
	if a.AllowPasswordGrant {
		g = append(g, "password")
	}
	return g
}

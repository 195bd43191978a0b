package httpapi

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/tokens"
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
// service accounts and, when enabled, password for users.
func (a *api) oauthToken(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	form, ok := a.tokenForm(c)
	if !ok {
		return
	}
	switch form.Get("grant_type") {
	case "":
		writeOAuthError(c, http.StatusBadRequest, "invalid_request", "grant_type is required")
	case "client_credentials":
		a.clientCredentialsGrant(c, form)
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

// tokenForm reads the form-encoded body, answering 400 itself when it is
// not one or repeats a parameter (RFC 6749 §3.2).
func (a *api) tokenForm(c *gin.Context) (url.Values, bool) {
	mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		writeOAuthError(c, http.StatusBadRequest, "invalid_request", "the body must be application/x-www-form-urlencoded")
		return nil, false
	}
	if err := c.Request.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeOAuthError(c, http.StatusBadRequest, "invalid_request", "request body is too large")
		} else {
			writeOAuthError(c, http.StatusBadRequest, "invalid_request", "the body is not a valid form")
		}
		return nil, false
	}
	for name, vals := range c.Request.PostForm {
		if len(vals) > 1 {
			writeOAuthError(c, http.StatusBadRequest, "invalid_request", "parameter "+name+" is repeated")
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
			return "", "", true, "malformed HTTP Basic credentials"
		}
		if form.Has("client_id") && form.Get("client_id") != id {
			return "", "", true, "client_id in the form differs from the HTTP Basic one"
		}
		return id, secret, true, ""
	case c.GetHeader("Authorization") != "":
		return "", "", true, "unsupported Authorization scheme: use HTTP Basic"
	}
	return form.Get("client_id"), form.Get("client_secret"), formSent, ""
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
	acct, grants, err := a.Services.Authenticate(c.Request.Context(), id, secret, c.ClientIP())
	if err != nil {
		a.oauthFail(c, err)
		return
	}
	a.issueOAuthToken(c, tokens.Subject{ID: acct.ID.String(), Username: acct.Name, Type: tokens.TypeService,
		Roles: grants.Roles, Permissions: grants.Permissions})
}

func (a *api) passwordGrant(c *gin.Context, form url.Values) {
	// A client that authenticates must authenticate correctly; a public
	// client need not.
	if id, secret, sent, problem := clientCredentials(c, form); problem != "" {
		writeOAuthError(c, http.StatusUnauthorized, "invalid_client", problem)
		return
	} else if sent && secret != "" {
		if _, _, err := a.Services.Authenticate(c.Request.Context(), id, secret, c.ClientIP()); err != nil {
			a.oauthFail(c, err)
			return
		}
	}
	username, password := form.Get("username"), form.Get("password")
	if username == "" || password == "" {
		writeOAuthError(c, http.StatusBadRequest, "invalid_request", "username and password are required")
		return
	}
	ctx := c.Request.Context()
	user, err := a.Users.Authenticate(ctx, username, password, c.ClientIP())
	if err != nil {
		a.oauthFail(c, err)
		return
	}
	grants, err := a.RBAC.Grants(ctx, user.ID)
	if err != nil {
		a.oauthFail(c, err)
		return
	}
	a.issueOAuthToken(c, tokens.Subject{ID: user.ID.String(), Username: user.Username, Type: tokens.TypeUser,
		Roles: grants.Roles, Permissions: grants.Permissions})
}

func (a *api) issueOAuthToken(c *gin.Context, s tokens.Subject) {
	token, _, err := a.Issuer.Issue(s)
	if err != nil {
		a.oauthFail(c, err)
		return
	}
	c.JSON(http.StatusOK, tokenResponse{AccessToken: token, TokenType: "Bearer", ExpiresIn: int64(a.Issuer.TTL() / time.Second)})
}

// oauthFail maps a domain error to its RFC 6749 error. Unknown errors are
// logged and answered with a server_error that reveals nothing.
func (a *api) oauthFail(c *gin.Context, err error) {
	switch {
	case errors.Is(err, serviceaccount.ErrInvalidClient):
		writeOAuthError(c, http.StatusUnauthorized, "invalid_client", "client authentication failed")
	case errors.Is(err, identity.ErrInvalidCredentials):
		writeOAuthError(c, http.StatusBadRequest, "invalid_grant", "invalid username or password")
	default:
		a.Log.Error("request failed", "path", c.Request.URL.Path, "err", err)
		writeOAuthError(c, http.StatusInternalServerError, "server_error", "internal server error")
	}
}

// grantTypes are the grants /oauth/token accepts.
func (a *api) grantTypes() []string {
	g := []string{"client_credentials"}
	if a.AllowPasswordGrant {
		g = append(g, "password")
	}
	return g
}

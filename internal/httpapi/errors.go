package httpapi

import (
	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/problem"
)

// errorBody is every error response: a stable code and a human message.
type errorBody struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeError(c *gin.Context, status int, code, message string) {
	c.AbortWithStatusJSON(status, errorBody{Error: code, Message: message})
}

// fail maps a domain error to its response. Unknown errors are logged and
// answered with a generic 500 that reveals nothing.
func (a *api) fail(c *gin.Context, err error) {
	p := problem.Of(err)
	if !p.Known {
		a.Log.ErrorContext(c.Request.Context(), "request failed", "path", c.Request.URL.Path, "err", err)
	}
	if p.RetryAfter != "" {
		c.Header("Retry-After", p.RetryAfter)
	}
	if p.Code == "invalid_token" {
		c.Header("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	writeError(c, p.Status, p.Code, p.Message)
}

package httpapi

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/gaia-platform/iam/internal/bundle"
)

// policyBundle serves the signed policy bundle by OPA's bundle protocol:
// the ETag is the revision, and a matching If-None-Match gets 304 without
// a body. It answers from memory; the bundle is compiled in the background.
//
// The type is plain gzip on purpose: application/vnd.openpolicyagent.bundles
// tells OPA that the server holds long-poll requests, which this one does
// not, and OPA would then re-poll in a tight loop.
func (a *api) policyBundle(c *gin.Context) {
	b := a.Bundle()
	if b == nil {
		a.fail(c, bundle.ErrUnavailable)
		return
	}
	etag := `"` + b.Revision + `"`
	c.Header("ETag", etag)
	c.Header("Cache-Control", "no-cache")
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/gzip", b.Bytes)
}

// etagMatches applies If-None-Match's weak comparison (RFC 9110, 13.1.2):
// any listed tag equal to etag once W/ is dropped, or "*", matches.
func etagMatches(ifNoneMatch, etag string) bool {
	for tag := range strings.SplitSeq(ifNoneMatch, ",") {
		tag = strings.TrimSpace(tag)
		if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
			return true
		}
	}
	return false
}

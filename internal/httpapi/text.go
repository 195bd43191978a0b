package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// Every string a request carries reaches the store as text, and
// PostgreSQL's text holds neither a NUL nor a byte sequence that is not
// UTF-8. Such a value names nothing that can exist, so the request is
// refused with a 400 before any handler sees it, wherever it came in: a
// path segment, a query parameter, a form field or a JSON string.

// isText reports whether s can be stored as text.
func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

const notTextMessage = " must be UTF-8 text without NUL characters"

// requireTextParams refuses a request whose path parameters or query
// parameters are not text.
func requireTextParams(c *gin.Context) {
	for _, p := range c.Params {
		if !isText(p.Value) {
			writeError(c, http.StatusBadRequest, "invalid_request", "path parameter "+p.Key+notTextMessage)
			return
		}
	}
	for name, vals := range c.Request.URL.Query() {
		for _, v := range vals {
			if !isText(name) || !isText(v) {
				writeError(c, http.StatusBadRequest, "invalid_request", "query parameters"+notTextMessage)
				return
			}
		}
	}
	c.Next()
}

// jsonHasNUL reports whether a JSON string in body, a key or a value,
// holds a NUL (the escape \u0000: JSON cannot hold a raw one). Invalid
// UTF-8 needs no check: decoding replaces it with U+FFFD.
func jsonHasNUL(body []byte) bool {
	if !bytes.Contains(body, []byte(`\u0000`)) {
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		if s, ok := tok.(string); ok && strings.ContainsRune(s, 0) {
			return true
		}
	}
}

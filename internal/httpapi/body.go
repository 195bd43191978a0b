package httpapi

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// Request bodies: read under the size limit, decoded as one JSON object,
// and every problem said in JSON's terms.

// decodeJSON reads one JSON object from the body into v, answering itself
// when the body is too large (413), not JSON, not of v's shape or holds a
// string that is not text (400).
func decodeJSON(c *gin.Context, v any) bool {
	body, ok := readBody(c)
	return ok && unmarshalJSON(c, body, v)
}

// tooLargeMessage answers every body over maxBody, JSON or form alike.
var tooLargeMessage = fmt.Sprintf("request body is larger than %d KiB", maxBody>>10)

// isTooLarge reports whether err is the body's read stopping at the
// limit limitBody set.
func isTooLarge(err error) bool {
	var tooBig *http.MaxBytesError
	return errors.As(err, &tooBig)
}

// readBody reads the whole body, answering itself when it cannot: 413
// Content Too Large (RFC 9110 §15.5.14) over maxBody, else 400.
func readBody(c *gin.Context) ([]byte, bool) {
	body, err := io.ReadAll(c.Request.Body)
	switch {
	case isTooLarge(err):
		writeError(c, http.StatusRequestEntityTooLarge, "request_too_large", tooLargeMessage)
		return nil, false
	case err != nil:
		writeError(c, http.StatusBadRequest, "invalid_request", "request body could not be read")
		return nil, false
	}
	return body, true
}

// unmarshalJSON decodes body, one JSON object, into v, answering 400
// itself when it is not JSON, not of v's shape or holds a string that is
// not text.
func unmarshalJSON(c *gin.Context, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		writeError(c, http.StatusBadRequest, "invalid_request", jsonProblem(err, body, v))
		return false
	}
	if jsonHasNUL(body) {
		writeError(c, http.StatusBadRequest, "invalid_request", "strings in the request body"+notTextMessage)
		return false
	}
	return true
}

// jsonProblem says what json.Unmarshal found wrong with body, decoded
// into v, in JSON's own terms: the client never sees a Go type.
func jsonProblem(err error, body []byte, v any) string {
	var typeErr *json.UnmarshalTypeError
	var timeErr *time.ParseError
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return "request body is empty: it must be a JSON object"
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return "request body must be a JSON object"
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q must be %s", typeErr.Field, jsonType(declaredType(reflect.TypeOf(v), typeErr.Field, typeErr.Type)))
	case errors.As(err, &timeErr):
		return "times must be RFC 3339 strings such as 2026-01-02T15:04:05Z"
	case errors.As(err, new(*json.SyntaxError)):
		return "request body must be a JSON object: malformed JSON"
	default: // an UnmarshalJSON method refused its value
		return "a field of the request body has the wrong type or form"
	}
}

// declaredType is the type of the field at path ("a.b", as
// json.UnmarshalTypeError names it) in t. A type error inside a list
// names the list but the element's type; the list is what the client must
// send. It is failed when the path cannot be followed.
func declaredType(t reflect.Type, path string, failed reflect.Type) reflect.Type {
	for name := range strings.SplitSeq(path, ".") {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return failed
		}
		f, ok := jsonField(t, name)
		if !ok {
			return failed
		}
		t = f.Type
	}
	return t
}

// jsonField is t's field that JSON calls name.
func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "" {
			tag = f.Name
		}
		if f.IsExported() && tag != "-" && strings.EqualFold(tag, name) {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

var textUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()

// jsonType names, with its article, the JSON type that decodes into t:
// "a string", "an array of strings".
func jsonType(t reflect.Type) string {
	noun, _ := jsonNoun(t)
	if strings.ContainsRune("aeiou", rune(noun[0])) {
		return "an " + noun
	}
	return "a " + noun
}

// jsonNoun is the JSON type that decodes into t, singular and plural.
func jsonNoun(t reflect.Type) (one, many string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(textUnmarshaler) {
		return "string", "strings" // a UUID, a time
	}
	switch t.Kind() {
	case reflect.String:
		return "string", "strings"
	case reflect.Bool:
		return "boolean", "booleans"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer", "integers"
	case reflect.Float32, reflect.Float64:
		return "number", "numbers"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return "base64 string", "base64 strings"
		}
		_, elems := jsonNoun(t.Elem())
		return "array of " + elems, "arrays of " + elems
	case reflect.Struct, reflect.Map:
		return "object", "objects"
	}
	return "JSON value", "JSON values"
}

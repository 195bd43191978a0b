package decisionlog

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Limits bound one upload. OPA's plugin sends chunks of at most
// upload_size_limit_bytes compressed (32 KiB by default), far below them.
type Limits struct {
	MaxBytes  int64 // of the JSON, after decompression
	MaxEvents int
}

// event is one element of the JSON array OPA's decision-log plugin
// uploads (v1/plugins/logs EventV1). Fields not listed are not kept:
// metrics, nd_builtin_cache, request_context, erased, masked, query.
type event struct {
	DecisionID string            `json:"decision_id"`
	Labels     map[string]string `json:"labels"`
	Revision   string            `json:"revision"` // deprecated by OPA for bundles
	Bundles    map[string]struct {
		Revision string `json:"revision"`
	} `json:"bundles"`
	Path        string    `json:"path"`
	Input       any       `json:"input"` // JSON values, numbers as written
	Result      any       `json:"result"`
	Error       any       `json:"error"`
	RequestedBy string    `json:"requested_by"`
	Timestamp   time.Time `json:"timestamp"`
}

// maxDecisionID bounds a decision id; OPA's are UUIDs.
const maxDecisionID = 128

// decode reads an upload: a JSON array of events, gzip-compressed when
// encoding is "gzip" (what OPA sends) or plain when it is empty or
// "identity". The decompressed size is bounded, so a small gzip bomb
// cannot make it inflate without limit.
func decode(body io.Reader, encoding string, lim Limits) ([]event, error) {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, fmt.Errorf("%w: Content-Encoding is gzip but the body is not gzip data", ErrMalformed)
		}
		defer zr.Close()
		body = zr
	case "", "identity":
	default:
		return nil, fmt.Errorf("%w: unsupported Content-Encoding %q: send gzip or nothing", ErrMalformed, encoding)
	}
	raw, err := io.ReadAll(io.LimitReader(body, lim.MaxBytes+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w: the body cannot be read: %w", ErrMalformed, err)
	case int64(len(raw)) > lim.MaxBytes:
		return nil, fmt.Errorf("%w: more than %d bytes of JSON after decompression", ErrTooLarge, lim.MaxBytes)
	}
	var events []event
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&events); err != nil {
		return nil, fmt.Errorf("%w: want a JSON array of OPA decision log events: %s", ErrMalformed, jsonProblem(err))
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: data after the JSON array", ErrMalformed)
	}
	if len(events) > lim.MaxEvents {
		return nil, fmt.Errorf("%w: %d events, more than the %d one upload may hold", ErrTooLarge, len(events), lim.MaxEvents)
	}
	for i, e := range events {
		switch {
		case e.DecisionID == "":
			return nil, fmt.Errorf("%w: event %d has no decision_id", ErrMalformed, i)
		case len(e.DecisionID) > maxDecisionID:
			return nil, fmt.Errorf("%w: event %d: decision_id is longer than %d bytes", ErrMalformed, i, maxDecisionID)
		case e.Timestamp.IsZero():
			return nil, fmt.Errorf("%w: event %d has no timestamp", ErrMalformed, i)
		}
	}
	return events, nil
}

func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		return fmt.Sprintf("%s must not be a JSON %s", strings.TrimPrefix(typeErr.Field, "."), typeErr.Value)
	case errors.Is(err, io.EOF):
		return "the body is empty"
	}
	var timeErr *time.ParseError
	if errors.As(err, &timeErr) {
		return "a timestamp is not RFC 3339"
	}
	return "malformed JSON"
}

// entry turns an uploaded event into what is stored, redacting it.
func entry(e event, client uuid.UUID, received time.Time) (Entry, error) {
	out := Entry{
		ClientID: client, DecisionID: storable(e.DecisionID), Path: storable(e.Path),
		DecidedAt: e.Timestamp.UTC(), ReceivedAt: received,
		Revision: storable(revision(e)), Labels: redactLabels(e.Labels), RequestedBy: storable(e.RequestedBy),
	}
	out.Allowed, out.Reasons = verdict(e.Result)
	var input any
	input, out.Subject, out.TokenID = redactInput(e.Input)
	var err error
	for _, f := range []struct {
		to *json.RawMessage
		v  any
	}{{&out.Input, input}, {&out.Result, redactValue(e.Result)}, {&out.Error, redactValue(e.Error)}} {
		if f.v == nil {
			continue
		}
		if *f.to, err = json.Marshal(f.v); err != nil {
			return Entry{}, err
		}
	}
	return out, nil
}

// revision is the gaia bundle's revision, else the one bundle's, else
// the deprecated top-level field.
func revision(e event) string {
	if b, ok := e.Bundles["gaia"]; ok {
		return b.Revision
	}
	names := make([]string, 0, len(e.Bundles))
	for n := range e.Bundles {
		names = append(names, n)
	}
	if len(names) == 1 {
		return e.Bundles[names[0]].Revision
	}
	return e.Revision
}

// verdict reads allow and reasons from a result that is a boolean (the
// allow rule) or an object with "allow" (the decision rule).
func verdict(result any) (*bool, []string) {
	switch r := result.(type) {
	case bool:
		return &r, nil
	case map[string]any:
		var reasons []string
		list, _ := r["reasons"].([]any)
		for _, v := range list {
			if s, ok := v.(string); ok {
				reasons = append(reasons, storable(s))
			}
		}
		sort.Strings(reasons)
		if allow, ok := r["allow"].(bool); ok {
			return &allow, reasons
		}
		return nil, reasons
	}
	return nil, nil
}

// jwtPattern matches a compact JWS or JWE: its header is base64url JSON,
// so it starts with "eyJ" ('{"'). Any such string anywhere in an event is
// replaced, so that a token passed in another input field (a header copied
// into the input, say) is not stored either.
var jwtPattern = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_.-]*`)

// redacted replaces every token in a stored event.
const redacted = "[redacted]"

// storable is s as it is stored: tokens redacted, and NUL characters,
// which PostgreSQL's text and jsonb cannot hold, replaced by U+FFFD. An
// event is stored rather than refused for them: OPA would send a refused
// upload again and again.
func storable(s string) string {
	return strings.ReplaceAll(jwtPattern.ReplaceAllString(s, redacted), "\x00", "\uFFFD")
}

// redactInput drops input.token, returning the subject and token id it
// claims (unverified: the decision says whether it was valid), and
// redacts any other token in the input.
func redactInput(input any) (redactedInput any, sub, jti string) {
	if m, ok := input.(map[string]any); ok {
		if tok, ok := m["token"].(string); ok {
			sub, jti = claimed(tok)
		}
		delete(m, "token")
	}
	return redactValue(input), storable(sub), storable(jti)
}

func redactValue(v any) any {
	switch x := v.(type) {
	case string:
		return storable(x)
	case []any:
		for i := range x {
			x[i] = redactValue(x[i])
		}
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[storable(k)] = redactValue(e)
		}
		return out
	}
	return v
}

func redactLabels(labels map[string]string) map[string]string {
	out := make(map[string]string, len(labels))
	for k, v := range labels {
		out[storable(k)] = storable(v)
	}
	return out
}

// claimed reads sub and jti from a JWT's payload without verifying it.
func claimed(token string) (sub, jti string) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", ""
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", ""
	}
	var c struct {
		Sub string `json:"sub"`
		JTI string `json:"jti"`
	}
	if json.Unmarshal(payload, &c) != nil {
		return "", ""
	}
	return c.Sub, c.JTI
}

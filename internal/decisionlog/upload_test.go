package decisionlog

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func jwt(claims string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + enc([]byte(claims)) + ".c2lnbmF0dXJl"
}

func TestEntry_RedactsEveryTokenAndKeepsItsSubject(t *testing.T) {
	tok := jwt(`{"sub":"u-1","jti":"j-1","exp":1}`)
	for _, tc := range []struct {
		name, input, want string
		sub, jti          string
	}{
		{"input.token dropped", `{"token":"` + tok + `","permission":"inventory.read"}`, `{"permission":"inventory.read"}`, "u-1", "j-1"},
		{"header", `{"headers":{"authorization":"Bearer ` + tok + `"}}`, `{"headers":{"authorization":"Bearer [redacted]"}}`, "", ""},
		{"in an array and a key", `{"a":["x","` + tok + `"],"` + tok + `":1.50}`, `{"[redacted]":1.50,"a":["x","[redacted]"]}`, "", ""},
		{"garbage token", `{"token":"not.a.jwt","n":10000000000000000001}`, `{"n":10000000000000000001}`, "", ""},
		{"not an object", `"` + tok + `"`, `"[redacted]"`, "", ""},
		{"no input", ``, ``, "", ""},
		{"look-alikes stay", `{"s":"eyJ only","t":"a.b.c"}`, `{"s":"eyJ only","t":"a.b.c"}`, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body := `[{"decision_id":"d","timestamp":"2026-11-26T02:00:00Z","result":true` +
				map[bool]string{true: `,"input":` + tc.input, false: ``}[tc.input != ""] + `}]`
			events, err := decode(strings.NewReader(body), "", Limits{MaxBytes: 1 << 20, MaxEvents: 10})
			if err != nil {
				t.Fatal(err)
			}
			e, err := entry(events[0], uuid.New(), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if string(e.Input) != tc.want || e.Subject != tc.sub || e.TokenID != tc.jti {
				t.Errorf("input %s subject %q jti %q, want %s %q %q", e.Input, e.Subject, e.TokenID, tc.want, tc.sub, tc.jti)
			}
		})
	}
}

func TestVerdict_ReadsAllowAndReasons(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		result  string
		allowed *bool
		reasons []string
	}{
		{`true`, &yes, nil},
		{`false`, &no, nil},
		{`{"allow":false,"reasons":["token_revoked","permission_missing",3]}`, &no, []string{"permission_missing", "token_revoked"}},
		{`{"allow":true,"reasons":[]}`, &yes, nil},
		{`{"reasons":["x"]}`, nil, []string{"x"}},
		{`{"allow":"yes"}`, nil, nil},
		{`[true]`, nil, nil},
		{`null`, nil, nil},
	} {
		var v any
		if err := json.Unmarshal([]byte(tc.result), &v); err != nil {
			t.Fatal(err)
		}
		allowed, reasons := verdict(v)
		if !reflect.DeepEqual(allowed, tc.allowed) || !reflect.DeepEqual(reasons, tc.reasons) {
			t.Errorf("%s: allowed %v reasons %q, want %v %q", tc.result, allowed, reasons, tc.allowed, tc.reasons)
		}
	}
}

func TestRevision_PrefersTheGaiaBundle(t *testing.T) {
	for _, tc := range []struct{ event, want string }{
		{`{"bundles":{"gaia":{"revision":"g"},"other":{"revision":"o"}},"revision":"old"}`, "g"},
		{`{"bundles":{"other":{"revision":"o"}}}`, "o"},
		{`{"bundles":{"a":{"revision":"a"},"b":{"revision":"b"}},"revision":"old"}`, "old"},
		{`{"revision":"old"}`, "old"},
	} {
		var e event
		if err := json.Unmarshal([]byte(tc.event), &e); err != nil {
			t.Fatal(err)
		}
		if got := revision(e); got != tc.want {
			t.Errorf("%s: revision %q, want %q", tc.event, got, tc.want)
		}
	}
}

// BenchmarkDecodeAndRedact is the IAM's work per upload before the
// database: gunzip, parse and redact a chunk of 100 decisions as OPA
// sends them, each input holding a token.
func BenchmarkDecodeAndRedact(b *testing.B) {
	tok := jwt(`{"sub":"62110d5d-ab26-4249-a34d-7d4da60ffd94","jti":"d5d96754-ad94-4f49-b958-1c64b0fb9332","exp":1}`)
	events := make([]map[string]any, 100)
	for i := range events {
		events[i] = map[string]any{"decision_id": uuid.NewString(), "path": "gaia/authz/decision",
			"timestamp": "2026-11-26T02:00:00Z", "labels": map[string]string{"id": "opa-1", "version": "1.22.3"},
			"bundles": map[string]any{"gaia": map[string]string{"revision": "9c1f"}},
			"input":   map[string]any{"token": tok, "permission": "inventory.read"},
			"result":  map[string]any{"allow": false, "reasons": []string{"permission_missing"}}}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(events); err != nil {
		b.Fatal(err)
	}
	zw.Close()
	client := uuid.New()
	b.ReportAllocs()
	for b.Loop() {
		evs, err := decode(bytes.NewReader(buf.Bytes()), "gzip", Limits{MaxBytes: 8 << 20, MaxEvents: 10000})
		if err != nil {
			b.Fatal(err)
		}
		for _, e := range evs {
			if _, err := entry(e, client, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(events)), "ns/decision")
}

package requestid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gaia-platform/iam/internal/requestid"
)

func TestValid_WhatAClientMaySendAsItsID(t *testing.T) {
	for id, want := range map[string]bool{
		"550e8400-e29b-41d4-a716-446655440000": true,
		"lb.7f3a_91-Z":                         true,
		strings.Repeat("a", 64):                true,
		"":                                     false,
		strings.Repeat("a", 65):                false,
		"has space":                            false,
		`quote"d`:                              false,
		"new\nline":                            false,
		"tok=abc":                              false,
		"a/b":                                  false,
		"ünïcode":                              false,
	} {
		if got := requestid.Valid(id); got != want {
			t.Errorf("Valid(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestOf_KeepsOneWellFormedIDElseMakesOne(t *testing.T) {
	h := http.Header{}
	h.Set(requestid.Header, "abc-1")
	if got := requestid.Of(h); got != "abc-1" {
		t.Errorf("Of(well-formed) = %q", got)
	}
	h.Add(requestid.Header, "abc-2")
	for name, h := range map[string]http.Header{"two ids": h, "none": {}, "malformed": {"X-Request-Id": {"a b"}}} {
		a, b := requestid.Of(h), requestid.Of(h)
		if len(a) != 32 || !requestid.Valid(a) || a == b {
			t.Errorf("Of(%s) = %q then %q, want two different generated ids", name, a, b)
		}
	}
}

func TestHandler_StampsLinesLoggedWithARequestsContext(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(requestid.Handler(slog.NewJSONHandler(&buf, nil))).With("component", "test")
	ctx := requestid.With(context.Background(), "req-42")
	log.InfoContext(ctx, "inside", "k", "v")
	log.Info("outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d lines: %s", len(lines), buf.String())
	}
	var in, out map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &in)
	_ = json.Unmarshal([]byte(lines[1]), &out)
	if in["request_id"] != "req-42" || in["k"] != "v" || in["component"] != "test" {
		t.Errorf("line logged with the request's context: %s", lines[0])
	}
	if _, ok := out["request_id"]; ok {
		t.Errorf("line logged without one has a request_id: %s", lines[1])
	}
}

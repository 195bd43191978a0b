package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/identity"
)

// The audit trail is one hash chain however many writers append at once,
// and every way of writing an event (on its own, or with the change it
// records) links into it.

func testAuditChainConcurrentWriters(t *testing.T, s Store) {
	const writers, each = 16, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		u := newUser(fmt.Sprintf("writer%d", w))
		wg.Go(func() {
			if err := identity.CreateUser(t.Context(), s, u, nil, userEvent(audit.UserCreated, u.ID)); err != nil {
				errs <- err
				return
			}
			for i := range each {
				ev := audit.Event{At: at(i), Actor: "anonymous", Action: audit.LoginFailed, IP: "192.0.2.7",
					Details: map[string]any{"writer": w, "attempt": i, "note": "<&> \u00e9"}}
				if err := s.AppendAudit(t.Context(), ev); err != nil {
					errs <- err
					return
				}
				if err := s.RecordLogin(t.Context(), u.ID, at(i).Add(time.Nanosecond*123), userEvent(audit.LoginSucceeded, u.ID)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, err := audit.Verify(t.Context(), s.AuditChain)
	if err != nil {
		t.Fatalf("Verify after %d concurrent writers: %v", writers, err)
	}
	if want := countEvents(t, s, ""); n != want || n != writers*(1+2*each) {
		t.Errorf("Verify = ok %d events; the trail holds %d, want %d", n, want, writers*(1+2*each))
	}
}

func testAuditTail(t *testing.T, s Store) {
	for i, ev := range []audit.Event{
		{At: at(1), Actor: "anonymous", Action: audit.LoginFailed},
		{At: at(2), Actor: "user:a", Action: audit.LoginSucceeded},
		{At: at(3), Actor: "user:a", Action: audit.UserPasswordSet},
		{At: at(4), Actor: "user:b", Action: audit.LoginSucceeded, Target: "user:b"},
		{At: at(5), Actor: "user:a", Action: "auth.loginx", Target: "user:b"},
	} {
		if err := s.AppendAudit(t.Context(), ev); err != nil {
			t.Fatalf("AppendAudit %d: %v", i, err)
		}
	}
	actions := func(q audit.TailQuery) []string {
		t.Helper()
		evs, err := s.AuditTail(t.Context(), q)
		if err != nil {
			t.Fatalf("AuditTail(%+v): %v", q, err)
		}
		var out []string
		for i, e := range evs {
			if i > 0 && e.ID <= evs[i-1].ID {
				t.Errorf("AuditTail(%+v): ids %d then %d, want oldest first", q, evs[i-1].ID, e.ID)
			}
			out = append(out, e.Actor+" "+e.Action)
		}
		return out
	}
	wantStrings(t, "last 2", actions(audit.TailQuery{Last: true, Limit: 2}),
		[]string{"user:b " + audit.LoginSucceeded, "user:a auth.loginx"})
	wantStrings(t, "type auth.login", actions(audit.TailQuery{Last: true, Limit: 10, Type: "auth.login"}),
		[]string{"anonymous " + audit.LoginFailed, "user:a " + audit.LoginSucceeded, "user:b " + audit.LoginSucceeded})
	wantStrings(t, "actor user:a, type exact", actions(audit.TailQuery{Last: true, Limit: 10, Actor: "user:a", Type: audit.LoginSucceeded}),
		[]string{"user:a " + audit.LoginSucceeded})
	all, _ := s.AuditTail(t.Context(), audit.TailQuery{Last: true, Limit: 10})
	wantStrings(t, "after the third", actions(audit.TailQuery{After: all[2].ID, Limit: 10, Actor: "user:a"}),
		[]string{"user:a auth.loginx"})
	wantStrings(t, "target user:b", actions(audit.TailQuery{Last: true, Limit: 10, Target: "user:b"}),
		[]string{"user:b " + audit.LoginSucceeded, "user:a auth.loginx"})
	wantStrings(t, "since 2, until 4", actions(audit.TailQuery{Last: true, Limit: 10, Since: at(2), Until: at(4)}),
		[]string{"user:a " + audit.LoginSucceeded, "user:a " + audit.UserPasswordSet})
}

// Listing events: newest first, by action, limited.
func testAuditEvents(t *testing.T, s Store) {
	appended := []audit.Event{
		{At: at(1), Actor: "anonymous", Action: audit.LoginFailed, Target: "", IP: "198.51.100.1",
			Details: map[string]any{"username": "mallory", "reason": "unknown_user"}},
		{At: at(2), Actor: audit.CLI, Action: audit.UserCreated, Target: "user:1",
			Details: map[string]any{"username": "alice", "roles": []any{"Admin", "Viewer"}, "attempt": 2.0, "ok": true}},
		{At: at(3), Actor: "anonymous", Action: audit.LoginFailed, IP: "2001:db8::1"},
	}
	for _, ev := range appended {
		if err := s.AppendAudit(t.Context(), ev); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
	}

	all := events(t, s, "")
	if len(all) != 3 {
		t.Fatalf("AuditEvents(all) returned %d events, want 3", len(all))
	}
	for i, got := range all {
		wantEvent(t, got, appended[len(appended)-1-i])
		if i > 0 && got.ID >= all[i-1].ID {
			t.Errorf("event ids %d then %d: want newest (highest id) first", all[i-1].ID, got.ID)
		}
	}

	failed := events(t, s, audit.LoginFailed)
	if len(failed) != 2 || failed[0].ID != all[0].ID || failed[1].ID != all[2].ID {
		t.Errorf("AuditEvents(%s) = %v, want ids %d, %d", audit.LoginFailed, ids(failed), all[0].ID, all[2].ID)
	}
	limited, err := s.AuditEvents(t.Context(), "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(limited) != 2 || limited[0].ID != all[0].ID || limited[1].ID != all[1].ID {
		t.Errorf("AuditEvents(limit 2) = %v, want the newest two %v", ids(limited), ids(all[:2]))
	}
}

func ids(evs []audit.Stored) []int64 {
	var out []int64
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
)

type serviceAccountView struct {
	ClientID  uuid.UUID `json:"client_id"`
	Name      string    `json:"name"`
	State     string    `json:"state"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Roles     []string  `json:"roles"`
}

func serviceAccountOf(a serviceaccount.Account) serviceAccountView {
	roles := a.Roles
	if roles == nil {
		roles = []string{}
	}
	return serviceAccountView{ClientID: a.ID, Name: a.Name, State: string(a.State), CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, Roles: roles}
}

// credentialsView is the one answer that carries a client secret.
type credentialsView struct {
	ClientID       uuid.UUID          `json:"client_id"`
	ClientSecret   string             `json:"client_secret"`
	ServiceAccount serviceAccountView `json:"service_account"`
}

type createServiceAccountRequest struct {
	Name  string   `json:"name"`
	Roles []string `json:"roles"`
}

func (a *api) adminCreateServiceAccount(c *gin.Context) {
	var req createServiceAccountRequest
	if !decodeJSON(c, &req) {
		return
	}
	roles, ok := a.bodyRoles(c, req.Roles)
	if !ok {
		return
	}
	acct, secret, err := a.Services.Create(c.Request.Context(), actor(c), req.Name, roles)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Location", "/admin/v1/service-accounts/"+acct.ID.String())
	c.JSON(http.StatusCreated, credentialsView{ClientID: acct.ID, ClientSecret: secret, ServiceAccount: serviceAccountOf(acct)})
}

// pathServiceAccount is the account :id names, with its roles; false
// (answered 404) when there is none.
func (a *api) pathServiceAccount(c *gin.Context) (serviceaccount.Account, bool) {
	return pathResource(a, c, serviceaccount.ErrNotFound, a.Services.ByID)
}

// respondServiceAccount answers the account id as listings show it.
func (a *api) respondServiceAccount(c *gin.Context, id uuid.UUID) {
	accts, err := a.Services.List(c.Request.Context())
	if err != nil {
		a.fail(c, err)
		return
	}
	i := slices.IndexFunc(accts, func(s serviceaccount.Account) bool { return s.ID == id })
	if i < 0 {
		a.fail(c, serviceaccount.ErrNotFound)
		return
	}
	c.JSON(http.StatusOK, serviceAccountOf(accts[i]))
}

func (a *api) adminGetServiceAccount(c *gin.Context) {
	if acct, ok := a.pathServiceAccount(c); ok {
		a.respondServiceAccount(c, acct.ID)
	}
}

func (a *api) adminRotateSecret(c *gin.Context) {
	acct, ok := a.pathServiceAccount(c)
	if !ok {
		return
	}
	acct, secret, err := a.Services.RotateSecret(c.Request.Context(), actor(c), acct.Name)
	if err != nil {
		a.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"client_id": acct.ID, "client_secret": secret})
}

func (a *api) adminDisableServiceAccount(c *gin.Context) {
	acct, ok := a.pathServiceAccount(c)
	if !ok {
		return
	}
	if _, err := a.Services.Disable(c.Request.Context(), actor(c), acct.Name); err != nil {
		a.fail(c, err)
		return
	}
	a.respondServiceAccount(c, acct.ID)
}

// revocationView is one revocation in force: a token by jti until it
// expires, or a subject's tokens issued until not_before.
type revocationView struct {
	Type      string     `json:"type"` // "token" or "subject"
	JTI       string     `json:"jti,omitempty"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	Subject   string     `json:"subject,omitempty"`
	NotBefore *time.Time `json:"not_before,omitempty"`
}

func (a *api) adminListRevocations(c *gin.Context) {
	p, ok := readPage(c)
	if !ok {
		return
	}
	rev, err := a.ActiveRevocations(c.Request.Context())
	if err != nil {
		a.fail(c, err)
		return
	}
	views := make([]revocationView, 0, len(rev.Tokens)+len(rev.Subjects))
	for jti, exp := range rev.Tokens {
		t := time.Unix(exp, 0).UTC()
		views = append(views, revocationView{Type: "token", JTI: jti, ExpiresAt: &t})
	}
	for sub, nb := range rev.Subjects {
		t := time.Unix(nb, 0).UTC()
		views = append(views, revocationView{Type: "subject", Subject: sub, NotBefore: &t})
	}
	respondListPage(c, p, views, func(v revocationView) string { return v.Type + ":" + v.JTI + v.Subject },
		func(v revocationView) revocationView { return v })
}

// revokeRequest names what to revoke: one token by jti (until expires_at,
// by default one access-token lifetime from now), or every token a
// subject (a user's or service account's id) holds now.
type revokeRequest struct {
	JTI       string     `json:"jti"`
	ExpiresAt *time.Time `json:"expires_at"`
	Subject   string     `json:"subject"`
}

func (a *api) adminCreateRevocation(c *gin.Context) {
	var req revokeRequest
	if !decodeJSON(c, &req) {
		return
	}
	ctx := c.Request.Context()
	now := a.Now().UTC()
	ev := audit.Event{At: now, Actor: actor(c), IP: clientIP(c), Details: map[string]any{"reason": "revoked by an administrator"}}
	switch {
	case (req.JTI == "") == (req.Subject == ""):
		writeError(c, http.StatusBadRequest, "invalid_request", "give exactly one of jti and subject")
	case req.JTI != "":
		exp := now.Add(a.Issuer.TTL())
		if req.ExpiresAt != nil {
			exp = *req.ExpiresAt
		}
		if !exp.After(now) || len(req.JTI) > 200 {
			writeError(c, http.StatusBadRequest, "invalid_request", "jti must be at most 200 characters and expires_at in the future")
			return
		}
		ev.Action, ev.Target = audit.TokenRevoked, "jti:"+req.JTI
		if _, err := a.Revocations.RevokeToken(ctx, req.JTI, exp, ev); err != nil {
			a.fail(c, err)
			return
		}
		t := time.Unix(exp.Unix(), 0).UTC()
		c.JSON(http.StatusCreated, revocationView{Type: "token", JTI: req.JTI, ExpiresAt: &t})
	default:
		id, target, ok := a.subjectTarget(c, req.Subject)
		if !ok {
			return
		}
		ev.Action, ev.Target = audit.SubjectRevoked, target
		if err := a.Revocations.RevokeSubject(ctx, id, now, ev); err != nil {
			a.fail(c, err)
			return
		}
		t := time.Unix(now.Unix(), 0).UTC()
		c.JSON(http.StatusCreated, revocationView{Type: "subject", Subject: req.Subject, NotBefore: &t})
	}
}

// subjectTarget is the id subject gives and the user or service account
// it names; false (answered) when it is neither.
func (a *api) subjectTarget(c *gin.Context, subject string) (uuid.UUID, string, bool) {
	id, err := uuid.Parse(subject)
	if err != nil {
		writeError(c, http.StatusBadRequest, "invalid_request", "subject must be a user's or service account's id")
		return id, "", false
	}
	ctx := c.Request.Context()
	_, err = a.Users.ByID(ctx, id)
	if err == nil {
		return id, identity.Target(id), true
	}
	if !errors.Is(err, identity.ErrUserNotFound) {
		a.fail(c, err)
		return id, "", false
	}
	if _, err := a.Services.ByID(ctx, id); err != nil {
		a.fail(c, err)
		return id, "", false
	}
	return id, serviceaccount.Target(id), true
}

type auditEventView struct {
	ID      int64          `json:"id"`
	At      time.Time      `json:"at"`
	Actor   string         `json:"actor"`
	Action  string         `json:"action"`
	Target  string         `json:"target"`
	IP      string         `json:"ip"`
	Details map[string]any `json:"details"`
}

func auditEventOf(e audit.Stored) auditEventView {
	return auditEventView{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, IP: e.IP, Details: e.Details}
}

// adminListAuditEvents lists events newest first, filtered by ?actor (a
// username or an actor as recorded), ?type (an action or a dotted prefix
// of actions) and ?since (RFC 3339).
func (a *api) adminListAuditEvents(c *gin.Context) {
	p, ok := readPage(c)
	if !ok {
		return
	}
	q := audit.TailQuery{Type: c.Query("type"), Last: true, Limit: p.limit + 1}
	if p.after != "" {
		before, err := strconv.ParseInt(p.after, 10, 64)
		if err != nil || before < 1 {
			writeError(c, http.StatusBadRequest, "invalid_request", "cursor must be a next_cursor this API returned")
			return
		}
		q.Before = before
	}
	if v := c.Query("since"); v != "" {
		since, err := time.Parse(time.RFC3339, v)
		if err != nil {
			writeError(c, http.StatusBadRequest, "invalid_request", "since must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
			return
		}
		q.Since = since
	}
	ctx := c.Request.Context()
	var err error
	if q.Actor, err = a.Users.Actor(ctx, c.Query("actor")); err != nil {
		a.fail(c, err)
		return
	}
	events, err := a.AuditEvents(ctx, q)
	if err != nil {
		a.fail(c, err)
		return
	}
	slices.Reverse(events) // newest first
	respondPage(c, p, events, func(e audit.Stored) string { return strconv.FormatInt(e.ID, 10) }, auditEventOf)
}

package httpapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/identity"
	"github.com/gaia-platform/iam/internal/serviceaccount"
	"github.com/gaia-platform/iam/internal/tokens"
)

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
	by := tokens.Revocation{Actor: actor(c), IP: clientIP(c), Reason: "revoked by an administrator"}
	switch {
	case (req.JTI == "") == (req.Subject == ""):
		writeError(c, http.StatusBadRequest, "invalid_request", "give exactly one of jti and subject")
	case req.JTI != "":
		exp, err := a.Revocations.RevokeToken(c.Request.Context(), by, req.JTI, req.ExpiresAt)
		if err != nil {
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
		at, err := a.Revocations.RevokeSubject(c.Request.Context(), by, id, target)
		if err != nil {
			a.fail(c, err)
			return
		}
		t := time.Unix(at.Unix(), 0).UTC()
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

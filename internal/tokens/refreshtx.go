package tokens

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/gaia-platform/iam/internal/audit"
)

// RefreshStore keeps refresh families. Every change to one is a flow of
// this package run in one of the store's refresh transactions, with its
// audit event in the same transaction.
type RefreshStore interface {
	RefreshTxStore
	// RefreshFamilyByToken finds the family of a token, spent or not.
	RefreshFamilyByToken(ctx context.Context, tokenHash string) (RefreshFamily, error)
	// RefreshFamilies lists user's unrevoked families that have not
	// expired at at, newest first.
	RefreshFamilies(ctx context.Context, user uuid.UUID, at time.Time) ([]RefreshFamily, error)
}

// RefreshTxStore opens the transactions refresh families change in.
type RefreshTxStore interface {
	// RefreshTx runs fn in one write transaction, committing if it
	// returns nil.
	RefreshTx(ctx context.Context, fn func(RefreshTx) error) error
}

// RefreshTx is the write transaction a refresh family changes in, as each
// store writes it in its own SQL. Its methods do what they are asked and
// no more: they decide nothing and audit nothing but what Audit is given,
// so that what a rotation does is decided once, here. A store may hold a
// write that returns nothing back and send it with the transaction's next
// statement; its error then comes from that statement or the commit.
type RefreshTx interface {
	// RefreshState reads what a rotation judges of the token hash, spent
	// or not, or ErrInvalidGrant for an unknown one. Where the store
	// locks rows (PostgreSQL), it locks the token's family until the
	// transaction ends, so that rotations of one family queue.
	RefreshState(ctx context.Context, hash string) (RefreshState, error)
	// SpendRefreshToken marks hash spent at at, keeping with it its
	// successor next and that successor sealed, unless it is spent
	// already; it reports whether it spent it. Of concurrent spends of
	// one token exactly one reports true.
	SpendRefreshToken(ctx context.Context, hash string, at time.Time, next string, sealed []byte) (bool, error)
	// InsertRefreshFamily stores f, unrevoked, without tokens.
	InsertRefreshFamily(ctx context.Context, f RefreshFamily) error
	// InsertRefreshToken stores the unspent token hash of family.
	InsertRefreshToken(ctx context.Context, hash string, family uuid.UUID, at time.Time) error
	// TouchRefreshFamily records that family id was used at at.
	TouchRefreshFamily(ctx context.Context, id uuid.UUID, at time.Time) error
	// RevokeRefreshFamily revokes user's family id at at, reporting false
	// when it is not user's or is revoked already.
	RevokeRefreshFamily(ctx context.Context, user, id uuid.UUID, at time.Time) (bool, error)
	// RevokeSubject voids the user's access tokens issued at or before at.
	RevokeSubject(ctx context.Context, user uuid.UUID, at time.Time) error

	Audit(ctx context.Context, ev audit.Event) error
}

// CreateRefreshFamily stores f with its first token and ev.
func CreateRefreshFamily(ctx context.Context, store RefreshTxStore, f RefreshFamily, tokenHash string, ev audit.Event) error {
	return store.RefreshTx(ctx, func(tx RefreshTx) error {
		if err := tx.InsertRefreshFamily(ctx, f); err != nil {
			return err
		}
		if err := tx.InsertRefreshToken(ctx, tokenHash, f.ID, f.CreatedAt); err != nil {
			return err
		}
		return tx.Audit(ctx, ev)
	})
}

// RotateRefreshToken spends r.Presented and stores r.Next, and with the
// spent token r.Next and r.NextSealed, in one transaction; of concurrent
// rotations of one token exactly one succeeds. A retry (RetryToken) stores
// nothing new and returns the sealed successor the winning rotation kept;
// a rotation returns nil in its place. A reuse (RevokeFamily) revokes the
// family and the user's tokens issued until r.At, commits that, and
// returns ErrRefreshReused; other refusals are ErrInvalidGrant.
func RotateRefreshToken(ctx context.Context, store RefreshTxStore, r RefreshRotation) (RefreshFamily, []byte, error) {
	var st RefreshState
	var verdict RefreshVerdict
	err := store.RefreshTx(ctx, func(tx RefreshTx) error {
		var err error
		if st, verdict, err = r.spend(ctx, tx); err != nil {
			return err
		}
		return r.record(ctx, tx, &st, verdict)
	})
	if err != nil {
		return RefreshFamily{}, nil, err
	}
	return outcome(st, verdict)
}

// spend judges the presented token and, when the verdict is to rotate it,
// spends it. The spend is conditional, so of concurrent rotations one
// wins; a loser reads the token again and judges what the winner left: a
// spent token, retried or reused.
func (r RefreshRotation) spend(ctx context.Context, tx RefreshTx) (RefreshState, RefreshVerdict, error) {
	st, err := tx.RefreshState(ctx, r.Presented)
	if err != nil {
		return st, RefuseToken, err
	}
	verdict := r.Judge(st)
	if verdict != RotateToken {
		return st, verdict, nil
	}
	won, err := tx.SpendRefreshToken(ctx, r.Presented, r.At, r.Next, r.NextSealed)
	if err != nil || won {
		return st, verdict, err
	}
	if st, err = tx.RefreshState(ctx, r.Presented); err != nil {
		return st, RefuseToken, err
	}
	return st, r.Judge(st), nil
}

// record writes what verdict does to the family of st, with its audit
// event: nothing for a refusal; for a reuse the family's and the user's
// revocation; otherwise the successor (a rotation only) and the family's
// last use, which st then shows.
func (r RefreshRotation) record(ctx context.Context, tx RefreshTx, st *RefreshState, verdict RefreshVerdict) error {
	f := st.Family
	switch verdict {
	case RefuseToken:
		return nil
	case RevokeFamily:
		if _, err := tx.RevokeRefreshFamily(ctx, f.UserID, f.ID, r.At); err != nil {
			return err
		}
		if err := tx.RevokeSubject(ctx, f.UserID, r.At); err != nil {
			return err
		}
		return tx.Audit(ctx, r.event(f, verdict))
	}
	if verdict == RotateToken {
		if err := tx.InsertRefreshToken(ctx, r.Next, f.ID, r.At); err != nil {
			return err
		}
	}
	if err := tx.TouchRefreshFamily(ctx, f.ID, r.At); err != nil {
		return err
	}
	st.Family.LastUsedAt = r.At
	return tx.Audit(ctx, r.event(st.Family, verdict))
}

// RevokeRefreshFamily ends user's family id at at, with ev, reporting
// false (and recording nothing) when it is not user's or already revoked.
func RevokeRefreshFamily(ctx context.Context, store RefreshTxStore, user, id uuid.UUID, at time.Time, ev audit.Event) (bool, error) {
	revoked := false
	err := store.RefreshTx(ctx, func(tx RefreshTx) error {
		var err error
		if revoked, err = tx.RevokeRefreshFamily(ctx, user, id, at); err != nil || !revoked {
			return err
		}
		return tx.Audit(ctx, ev)
	})
	return revoked, err
}

package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/robotlabor/billing/internal/sqlitex"
)

// Operation names are part of every stored request hash: never change them.
// A key is scoped to the whole sandbox, as Stripe scopes it to the account,
// so one key used for two different calls is reported as reused.
const (
	opCreateCustomer     = "create_customer"
	opCreateSetupSession = "create_setup_session"
	opCharge             = "charge"
	opRefund             = "refund"
	opStartSubscription  = "start_subscription"
	opCancelSubscription = "cancel_subscription"
	opRenewSubscription  = "renew_subscription"
)

// maxKeyLen is Stripe's limit on idempotency keys.
const maxKeyLen = 255

// requestHash fingerprints a call: its operation and its parameters, each
// length-prefixed so that no two parameter lists collide.
func requestHash(op string, params ...string) string {
	b := make([]byte, 0, 256)
	for _, p := range append([]string{op}, params...) {
		b = strconv.AppendInt(b, int64(len(p)), 10)
		b = append(b, ':')
		b = append(b, p...)
		b = append(b, ';')
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// idempotent runs do in a transaction and stores its result under key,
// unless key already holds a result: then that result is returned and
// do's writes are undone. A result is JSON of a record type with explicit
// tags, so the stored form never follows renamed Go fields. An error from
// do is not remembered (like Stripe's validation errors): a retry runs
// again. Calls share transactions (group commit, see sqlitex.Batch): the
// result is returned once it is durable.
//
// Most calls are their key's first, so do runs at once and the insert that
// stores its result also claims the key: a key used before makes that
// insert do nothing, do's writes are undone with the call, and the call is
// answered as replay answers it. Any other failure of that first attempt
// goes to replay as well: a call that do refused, since only the stored
// result may answer a key used before, and a transaction that failed to
// commit, which replay tries once more.
func idempotent[T any](ctx context.Context, s *Sandbox, key, hash string, do func(ctx context.Context, tx *sqlitex.Tx) (T, error)) (T, error) {
	var zero T
	if key == "" {
		return zero, fmt.Errorf("idempotency key is required: %w", ErrInvalidRequest)
	}
	if len(key) > maxKeyLen {
		return zero, fmt.Errorf("idempotency key longer than %d characters: %w", maxKeyLen, ErrInvalidRequest)
	}
	var got T
	err := s.writes.Do(ctx, func(ctx context.Context, tx *sqlitex.Tx) error {
		var err error
		if got, err = do(ctx, tx); err != nil {
			return err
		}
		return s.storeResult(ctx, tx, key, hash, got)
	})
	if err == nil {
		return got, nil
	}
	return replay(ctx, s, key, hash, do)
}

// errKeyUsed: the key holds a result already.
var errKeyUsed = errors.New("idempotency key used before")

// replay answers a call with the result stored under key, or runs do and
// stores its result if there is none.
func replay[T any](ctx context.Context, s *Sandbox, key, hash string, do func(ctx context.Context, tx *sqlitex.Tx) (T, error)) (T, error) {
	var got T
	err := s.writes.Do(ctx, func(ctx context.Context, tx *sqlitex.Tx) error {
		var storedHash, stored string
		err := tx.QueryRowContext(ctx, `SELECT request_hash, result FROM idempotency_keys WHERE key = ?`, key).Scan(&storedHash, &stored)
		switch {
		case err == nil:
			if storedHash != hash {
				return fmt.Errorf("idempotency key %q: %w", key, ErrIdempotencyKeyReused)
			}
			if err := json.Unmarshal([]byte(stored), &got); err != nil {
				return fmt.Errorf("stored result of idempotency key %q: %w", key, err)
			}
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if got, err = do(ctx, tx); err != nil {
			return err
		}
		return s.storeResult(ctx, tx, key, hash, got)
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return got, nil
}

// storeResult stores result under key: errKeyUsed if key holds one.
func (s *Sandbox) storeResult(ctx context.Context, tx *sqlitex.Tx, key, hash string, result any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO idempotency_keys (key, request_hash, result, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO NOTHING`, key, hash, string(b), unixNano(s.now()))
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errKeyUsed
	}
	return nil
}

// newID is prefix and 130 random bits (26 base32 characters): unguessable,
// so a setup session's id can be the capability to its page.
func newID(prefix string) string { return prefix + rand.Text() }

// newOrderedID is prefix, the time t in 13 characters that sort as it
// does, and 80 random bits (16 base32 characters). Rows keyed by such ids
// are inserted at the end of their index, not at a random place of it: a
// group commit of charges then writes one index page, not one per charge.
func newOrderedID(prefix string, t time.Time) string {
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(t.UnixNano()))
	return prefix + sortable.EncodeToString(ts[:]) + rand.Text()[:16]
}

// sortable is base32 whose text sorts as its bytes do.
var sortable = base32.HexEncoding.WithPadding(base32.NoPadding)

package projections

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/robotlabor/billing/internal/sqlitex"
)

// migrations take the schema from version v-1 to v (PRAGMA user_version,
// see sqlitex.Migrate); append, never edit a shipped entry. The read models
// are derived, so a migration may also empty the tables and reset the
// checkpoint: the projector then folds the log again. Times are INTEGER
// unix nanoseconds (UTC), so they sort as numbers.
var migrations = []string{
	1: `
CREATE TABLE checkpoint (
	name     TEXT PRIMARY KEY,
	position INTEGER NOT NULL
);
CREATE TABLE payment_methods (
	id         TEXT PRIMARY KEY,
	user_id    TEXT    NOT NULL,
	brand      TEXT    NOT NULL,
	last4      TEXT    NOT NULL,
	exp_month  INTEGER NOT NULL,
	exp_year   INTEGER NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE INDEX payment_methods_by_user_created ON payment_methods (user_id, created_at, id);
CREATE TABLE orders (
	id                TEXT PRIMARY KEY,
	user_id           TEXT    NOT NULL,
	plan_id           TEXT    NOT NULL,
	status            TEXT    NOT NULL,
	currency          TEXT    NOT NULL,
	amount            INTEGER NOT NULL,
	is_refundable     INTEGER NOT NULL,
	created_at        INTEGER NOT NULL,
	payment_method_id TEXT    NOT NULL,
	subscription_id   TEXT,
	failure_code      TEXT,
	refunded_at       INTEGER
);
CREATE INDEX orders_by_user_created ON orders (user_id, created_at, id);
CREATE INDEX orders_by_user_amount ON orders (user_id, amount, id);
CREATE TABLE subscriptions (
	id                   TEXT PRIMARY KEY,
	user_id              TEXT    NOT NULL,
	plan_id              TEXT    NOT NULL,
	order_id             TEXT    NOT NULL,
	status               TEXT    NOT NULL,
	current_period_start INTEGER,
	current_period_end   INTEGER,
	canceled_at          INTEGER,
	created_at           INTEGER NOT NULL
);
CREATE INDEX subscriptions_by_user_created ON subscriptions (user_id, created_at, id);
`,
	// The reconciler's sweep looks for orders still in between (few).
	2: `CREATE INDEX orders_unsettled ON orders (created_at) WHERE status IN ('pending', 'refund_pending');`,
	// Orders are stored in the order of a user's default page: a page is
	// one range of the table, whatever the history's size, instead of an
	// index range and a lookup of every row in a table that grows with
	// every user's orders (a page took twice as long with a million orders
	// as with a thousand). The read models are folded again from the log.
	3: `
DROP TABLE orders;
CREATE TABLE orders (
	id                TEXT    NOT NULL,
	user_id           TEXT    NOT NULL,
	plan_id           TEXT    NOT NULL,
	status            TEXT    NOT NULL,
	currency          TEXT    NOT NULL,
	amount            INTEGER NOT NULL,
	is_refundable     INTEGER NOT NULL,
	created_at        INTEGER NOT NULL,
	payment_method_id TEXT    NOT NULL,
	subscription_id   TEXT,
	failure_code      TEXT,
	refunded_at       INTEGER,
	PRIMARY KEY (user_id, created_at, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX orders_by_id ON orders (id);
CREATE INDEX orders_by_user_amount ON orders (user_id, amount, id);
CREATE INDEX orders_unsettled ON orders (created_at) WHERE status IN ('pending', 'refund_pending');
DELETE FROM payment_methods;
DELETE FROM subscriptions;
DELETE FROM checkpoint;
`,
	// An order is stored as the API shows it (body, its JSON), beside the
	// columns the lists sort and filter by: a page is read and answered
	// without decoding twelve columns and encoding them again. The body
	// is folded by the domain's order state machine (orders.go). The read
	// models are folded again from the log.
	4: `
DROP TABLE orders;
CREATE TABLE orders (
	id         TEXT    NOT NULL,
	user_id    TEXT    NOT NULL,
	created_at INTEGER NOT NULL,
	amount     INTEGER NOT NULL,
	status     TEXT    NOT NULL,
	body       TEXT    NOT NULL,
	PRIMARY KEY (user_id, created_at, id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX orders_by_id ON orders (id);
CREATE INDEX orders_by_user_amount ON orders (user_id, amount, id);
CREATE INDEX orders_unsettled ON orders (created_at) WHERE status IN ('pending', 'refund_pending');
DELETE FROM payment_methods;
DELETE FROM subscriptions;
DELETE FROM checkpoint;
`,
	// A subscription's card, cancel_at_period_end and cancel_reason, as
	// the API shows them; whether the provider's side of a cancellation is
	// confirmed (subscription.canceled), so that the reconciler's sweep
	// finds the ones still open there; and when the ledger's next charge of a
	// subscription is due (its period end, or while past_due its next
	// retry), so that its scheduler finds what is due with an index. The
	// read models are folded again from the log, which alone knows both
	// for the subscriptions already there.
	5: `
ALTER TABLE subscriptions ADD COLUMN cancel_confirmed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN next_due_at INTEGER;
ALTER TABLE subscriptions ADD COLUMN payment_method_id TEXT NOT NULL DEFAULT '';
ALTER TABLE subscriptions ADD COLUMN cancel_at_period_end INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN cancel_reason TEXT;
CREATE INDEX subscriptions_cancel_unconfirmed ON subscriptions (canceled_at) WHERE status = 'canceled' AND cancel_confirmed = 0;
CREATE INDEX subscriptions_due ON subscriptions (next_due_at) WHERE next_due_at IS NOT NULL;
DELETE FROM orders;
DELETE FROM payment_methods;
DELETE FROM subscriptions;
DELETE FROM checkpoint;
`,
	// When each order and subscription was first recorded and last
	// changed in the log (recorded_at, unix nanoseconds): an as-of read
	// lists the rows recorded by then and shows as they are those not
	// changed since (asof.go). The read models are folded again from the
	// log.
	6: `
ALTER TABLE orders ADD COLUMN placed_rec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN changed_rec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN created_rec INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN changed_rec INTEGER NOT NULL DEFAULT 0;
DELETE FROM orders;
DELETE FROM payment_methods;
DELETE FROM subscriptions;
DELETE FROM checkpoint;
`,
}

// checkSchema refuses, without changing anything, read models that this
// binary cannot read.
func checkSchema(ctx context.Context, db *sql.DB) error {
	version, err := sqlitex.UserVersion(ctx, db)
	if err != nil {
		return fmt.Errorf("read models schema version: %w", err)
	}
	schemaVersion := len(migrations) - 1
	switch {
	case version == schemaVersion:
		return nil
	case version > schemaVersion:
		return fmt.Errorf("read models schema %d is newer than this binary's %d: upgrade billing", version, schemaVersion)
	default:
		return fmt.Errorf("read models schema %d, want %d: run `billing serve` or `billing projections rebuild` first", version, schemaVersion)
	}
}

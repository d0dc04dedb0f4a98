package sandbox

import (
	"net/url"
	"time"

	"github.com/robotlabor/billing/internal/sqlitex"
)

// migrations take the schema from version v-1 to v (PRAGMA user_version,
// see sqlitex.Migrate); append, never edit a shipped entry. Times are Unix
// nanoseconds (UTC).
var migrations = []string{
	1: `
CREATE TABLE customers (
	id         TEXT    PRIMARY KEY,
	user_id    TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE payment_methods (
	id           TEXT    PRIMARY KEY,
	customer_id  TEXT    NOT NULL REFERENCES customers (id),
	brand        TEXT    NOT NULL,
	last4        TEXT    NOT NULL,
	exp_month    INTEGER NOT NULL,
	exp_year     INTEGER NOT NULL,
	decline_code TEXT    NOT NULL, -- '' when charges succeed
	created_at   INTEGER NOT NULL
);
CREATE TABLE setup_sessions (
	id                TEXT    PRIMARY KEY,
	ledger_session_id TEXT    NOT NULL,
	user_id           TEXT    NOT NULL,
	customer_id       TEXT    NOT NULL REFERENCES customers (id),
	return_url        TEXT    NOT NULL,
	status            TEXT    NOT NULL CHECK (status IN ('open', 'completed')),
	expires_at        INTEGER NOT NULL,
	created_at        INTEGER NOT NULL,
	completed_at      INTEGER,
	payment_method_id TEXT    REFERENCES payment_methods (id)
);
-- One row per completed session: the news for OnSetupCompleted.
CREATE TABLE outbox (
	event_id     TEXT    PRIMARY KEY,
	session_id   TEXT    NOT NULL UNIQUE REFERENCES setup_sessions (id),
	created_at   INTEGER NOT NULL,
	attempts     INTEGER NOT NULL DEFAULT 0,
	last_error   TEXT    NOT NULL DEFAULT '',
	delivered_at INTEGER
);
CREATE INDEX outbox_undelivered ON outbox (created_at) WHERE delivered_at IS NULL;
CREATE TABLE charges (
	id                TEXT    PRIMARY KEY,
	customer_id       TEXT    NOT NULL,
	payment_method_id TEXT    NOT NULL,
	amount            INTEGER NOT NULL CHECK (amount > 0),
	currency          TEXT    NOT NULL,
	order_id          TEXT    NOT NULL,
	status            TEXT    NOT NULL CHECK (status IN ('succeeded', 'failed')),
	failure_code      TEXT    NOT NULL,
	created_at        INTEGER NOT NULL
);
CREATE TABLE refunds (
	id         TEXT    PRIMARY KEY,
	charge_id  TEXT    NOT NULL UNIQUE REFERENCES charges (id), -- full refunds only
	amount     INTEGER NOT NULL,
	currency   TEXT    NOT NULL,
	order_id   TEXT    NOT NULL,
	created_at INTEGER NOT NULL
);
CREATE TABLE subscriptions (
	id                     TEXT    PRIMARY KEY,
	customer_id            TEXT    NOT NULL,
	payment_method_id      TEXT    NOT NULL,
	plan_id                TEXT    NOT NULL,
	price_ref              TEXT    NOT NULL,
	ledger_subscription_id TEXT    NOT NULL,
	amount                 INTEGER NOT NULL,
	currency               TEXT    NOT NULL,
	interval               TEXT    NOT NULL,
	interval_count         INTEGER NOT NULL,
	status                 TEXT    NOT NULL CHECK (status IN ('active', 'past_due', 'canceled', 'incomplete_expired')),
	anchor                 INTEGER NOT NULL, -- periods are counted from here, like Stripe's billing_cycle_anchor
	periods_paid           INTEGER NOT NULL,
	canceled_at            INTEGER,
	created_at             INTEGER NOT NULL
);
CREATE TABLE idempotency_keys (
	key          TEXT    PRIMARY KEY,
	request_hash TEXT    NOT NULL,
	result       TEXT    NOT NULL,
	created_at   INTEGER NOT NULL
);
`,
}

// dsn builds the modernc.org/sqlite data source name. synchronous=FULL
// fsyncs the WAL on every commit: an answered call is durable. The one
// connection's page cache is sqlitex.WriterCache, its checkpoints
// sqlitex.WriterCheckpoint.
func dsn(path string) string {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", sqlitex.WriterCache)
	q.Add("_pragma", sqlitex.WriterCheckpoint)
	q.Set("vfs", sqlitex.WALVFS)
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

func unixNano(t time.Time) int64 { return t.UnixNano() }

func fromUnixNano(n int64) time.Time { return time.Unix(0, n).UTC() }

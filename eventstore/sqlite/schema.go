package sqlite

// migrations take the schema from version v-1 to v (PRAGMA user_version);
// append, never edit a shipped entry.
var migrations = []string{
	1: `
CREATE TABLE events (
	position    INTEGER PRIMARY KEY,
	stream      TEXT    NOT NULL,
	revision    INTEGER NOT NULL,
	id          BLOB    NOT NULL,
	type        TEXT    NOT NULL,
	data        BLOB    NOT NULL,
	metadata    BLOB,
	recorded_at INTEGER NOT NULL,
	UNIQUE (stream, revision)
);
CREATE TRIGGER events_immutable BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are immutable'); END;
CREATE TRIGGER events_append_only BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
`,
	// 2: every stream is numbered in the order it began (streams), and an
	// event's place in its stream is indexed by that number: a new stream's
	// events, and those appended to a stream begun lately, land at the end
	// of the index rather than at the random place a stream's name (an
	// order's, derived from an idempotency key) would put them. Only a
	// stream's first event looks its name up at a random place. The events
	// keep their stream's name, so a read of the log needs no join; the
	// table is made again to drop the index by name. Every name in the log
	// is numbered, by its first event, whatever that event's revision:
	// every event is copied (and should one have no number, stream_no's
	// NOT NULL fails the migration rather than drop it).
	2: `
CREATE TABLE streams (
	no   INTEGER PRIMARY KEY,
	name TEXT    NOT NULL UNIQUE
);
INSERT INTO streams (name) SELECT stream FROM events GROUP BY stream ORDER BY min(position);
CREATE TABLE events_by_no (
	position    INTEGER PRIMARY KEY,
	stream      TEXT    NOT NULL,
	stream_no   INTEGER NOT NULL,
	revision    INTEGER NOT NULL,
	id          BLOB    NOT NULL,
	type        TEXT    NOT NULL,
	data        BLOB    NOT NULL,
	metadata    BLOB,
	recorded_at INTEGER NOT NULL,
	UNIQUE (stream_no, revision)
);
INSERT INTO events_by_no (position, stream, stream_no, revision, id, type, data, metadata, recorded_at)
	SELECT e.position, e.stream, s.no, e.revision, e.id, e.type, e.data, e.metadata, e.recorded_at
	FROM events e LEFT JOIN streams s ON s.name = e.stream ORDER BY e.position;
DROP TRIGGER events_immutable;
DROP TRIGGER events_append_only;
DROP TABLE events;
ALTER TABLE events_by_no RENAME TO events;
CREATE TRIGGER events_immutable BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are immutable'); END;
CREATE TRIGGER events_append_only BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER streams_immutable BEFORE UPDATE ON streams
BEGIN SELECT RAISE(ABORT, 'streams are immutable'); END;
CREATE TRIGGER streams_append_only BEFORE DELETE ON streams
BEGIN SELECT RAISE(ABORT, 'streams are append-only'); END;
`,
}

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
}

package main

import sqlitedriver "modernc.org/sqlite"

// syncWithFdatasync makes SQLite commit with fdatasync(2) instead of
// fsync(2), process-wide: the event store's, the sandbox's and the read
// models' commits. fdatasync makes the data durable and the file size with
// it, all a commit needs, but not the file's timestamps; on ext4 the
// timestamp update is a journal commit of its own, and fsync was 8% of
// serve's CPU under load (docs/performance-log.md, 2026-12-06). SQLite's own
// Linux builds sync with fdatasync; modernc.org/sqlite keeps SQLite's
// source default, fsync, unless asked. Where fdatasync is unavailable
// (macOS, Windows) the switch reports so and SQLite keeps syncing as
// before.
func syncWithFdatasync() {
	sqlitedriver.Fdatasync(true) //nolint:errcheck // unavailable: SQLite's default sync stays, as durable
}

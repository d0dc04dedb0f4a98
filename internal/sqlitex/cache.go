package sqlitex

// WriterCache is the page cache of a connection that commits under load
// (the event store's writer, the projector's, the sandbox's), as a
// cache_size pragma: 8 MB.
//
// Not more, although every commit under load inserts at random places of
// B-trees larger than that: the pages a larger cache would keep come from
// the kernel's page cache, and with a million orders in the log (files of
// a few hundred MB) 64 MB caches took as many orders per second as 8 MB
// ones (docs/performance-log.md). Before pcache.go kept the page cache's
// mark, a larger cache also cost more at every commit's end (a walk of its
// hash table: 3.5% of serve's CPU with 64 MB caches).
const WriterCache = "cache_size(-8192)"

// WriterCheckpoint is how far the write-ahead log of a connection that
// commits under load grows before a commit checkpoints it (copies its pages
// into the database file and syncs that), as a wal_autocheckpoint pragma:
// 10,000 pages, 40 MB. At SQLite's default of 1,000 the projector
// checkpointed three times a second under load, and a page changed by
// every commit (a B-tree's inner pages, its last leaves) is copied at every
// checkpoint: the checkpoints' writes and syncs were about 4% of serve's
// CPU, a third of that at 10,000. The log file keeps its largest size.
// Durability does not change: the event store's and the sandbox's commits
// sync the log one by one either way; the read models' are synced at
// checkpoints, so a power loss may take up to 40 MB of their last commits
// instead of 4, with their checkpoint, folded again from the event store
// before serve is ready.
const WriterCheckpoint = "wal_autocheckpoint(10000)"

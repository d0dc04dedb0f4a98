package sqlitex

// WriterCache is the page cache of a connection that commits under load
// (the event store's writer, the projector's, the sandbox's), as a
// cache_size pragma: 8 MB.
//
// Not more, although every commit under load inserts at random places of
// B-trees larger than that: SQLite ends every write transaction by dropping
// the cached pages numbered past the end of the file, and a transaction that
// split a B-tree page has, for a moment, cached one far past it
// (balance_nonroot swaps pages through a temporary number beyond the lock
// page). The drop then walks the cache's whole hash table, which grows with
// the pages cached. With 64 MB caches those walks were 3.5% of serve's CPU
// under load, more than the page reads a larger cache saves: with a million
// orders in the log, 8 MB caches took as many orders per second as 64 MB
// ones or more (docs/performance.md), and the page reads come from the
// kernel's page cache.
const WriterCache = "cache_size(-8192)"

package sqlitex

import (
	"sync/atomic"
	"unsafe"

	"modernc.org/libc"
	"modernc.org/libc/sys/types"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite's page cache (pcache1) remembers the largest page number it has
// held since it last dropped pages (iMaxKey), so that dropping the pages
// past the end of the file at the end of a write transaction looks only
// at those numbers. When a B-tree split leaves its new siblings' page
// numbers out of order, balance_nonroot swaps them through the number of
// the lock page (PENDING_BYTE, 1 GiB into the file), and that raises the
// mark there: while the file is smaller, the transaction's end then walks
// every slot of the cache's hash table, for nothing. Under the orders
// load nearly every commit splits a page somewhere, and the walks were
// 2.6% of serve's CPU.
//
// The rekey below is pcache1's, except that a move to the lock page's
// number leaves the mark where it was: the page moves on to its real
// number in the same swap, before anything can drop pages, and that move
// raises the mark as far as it must.

// pcacheRekey is pcache1's xRekey, wrapped by hookPageCache.
var pcacheRekey uintptr

// swapsKept counts the swaps through the lock page's number whose mark
// rekeyPage kept (the tests see that it runs).
var swapsKept atomic.Int64

// pageCacheHooked says whether hookPageCache installed the wrapped rekey.
var pageCacheHooked bool

func init() { pageCacheHooked = hookPageCache() }

// hookPageCache installs pcache1 with rekeyPage as its xRekey. SQLite
// takes a page cache only before it initialises, which the first
// connection opened does: a package's init runs before that. rekeyPage
// reads and writes pcache1's own structure: no other page cache may be
// installed before this init (modernc's sqlite.RegisterPageCache; nothing
// here calls it).
func hookPageCache() bool {
	tls := libc.NewTLS()
	defer tls.Close()
	// Not sqlite3_malloc: it would initialise SQLite.
	size := unsafe.Sizeof(sqlite3.Tsqlite3_pcache_methods2{})
	p := libc.Xmalloc(tls, types.Size_t(size))
	if p == 0 {
		return false
	}
	defer libc.Xfree(tls, p)
	if !pcacheConfig(tls, sqlite3.SQLITE_CONFIG_GETPCACHE2, p) {
		return false
	}
	m := at[sqlite3.Tsqlite3_pcache_methods2](p)
	if m.FxRekey == 0 {
		return false
	}
	pcacheRekey = m.FxRekey
	m.FxRekey = cFunc(rekeyPage)
	return pcacheConfig(tls, sqlite3.SQLITE_CONFIG_PCACHE2, p)
}

// pcacheConfig calls sqlite3_config(op, p).
func pcacheConfig(tls *libc.TLS, op int32, p uintptr) bool {
	va := libc.NewVaList(p)
	if va == 0 {
		return false
	}
	defer libc.Xfree(tls, va)
	return sqlite3.Xsqlite3_config(tls, op, va) == sqlite3.SQLITE_OK
}

func rekeyPage(tls *libc.TLS, pCache, pPage uintptr, oldKey, newKey uint32) {
	c := at[sqlite3.TPCache1](pCache)
	mark := c.FiMaxKey
	callFunc[func(*libc.TLS, uintptr, uintptr, uint32, uint32)](pcacheRekey)(tls, pCache, pPage, oldKey, newKey)
	if c.FszPage > 0 && newKey == pendingByte/uint32(c.FszPage)+1 {
		c.FiMaxKey = mark
		swapsKept.Add(1)
	}
}

// pendingByte is SQLite's PENDING_BYTE: the lock bytes are there, and the
// page that holds it is in no database. (Only sqlite3_test_control moves
// it.)
const pendingByte = 0x40000000

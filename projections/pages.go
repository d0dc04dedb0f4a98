package projections

import (
	"sync"
	"sync/atomic"
	"unsafe"

	lru "github.com/hashicorp/golang-lru/v2/simplelru"
)

// firstPages keeps the first pages of users' orders as last read, until a
// commit changes one of the user's orders: a client polling its orders
// (a dashboard, a retry loop) is answered from memory, while the read
// models are unchanged for it. Only the process that folds the read models
// can know when a page goes stale, so only read models opened with Open
// keep pages.
//
// A page is kept only if no commit changed orders between the moment its
// query began and the moment it is kept. Each such commit takes the next
// generation, then drops its users' pages; a query notes the generation
// before it starts, and its page is kept only if the generation is still
// that one. A page read before a commit and kept before the commit took
// its generation is dropped with the commit's users' pages. A commit of
// other users' orders meanwhile keeps a page out too: the safe side, and
// a query lasts microseconds.
type firstPages struct {
	gen atomic.Uint64 // commits that changed orders so far

	mu    sync.Mutex
	users *lru.LRU[string, map[pageKey]keptPage]
	bytes int // the kept pages' sizes
}

// firstPagesBudget bounds the memory firstPages's pages hold: about 1,300
// pages of 20 orders. The users least recently read go first.
const firstPagesBudget = 8 << 20

// firstPagesUsers bounds the users firstPages holds pages of.
const firstPagesUsers = 8192

// pageKey is what besides its user tells a first page from another.
type pageKey struct {
	sortBy string
	desc   bool
	limit  int
}

// keptPage is a page as Orders returned it. Its orders are shared by every
// caller it is returned to: no one may change them.
type keptPage struct {
	items   []RawOrder
	hasMore bool
}

// newKeptPage copies a page to be kept: into a slice and one buffer of
// bodies of exactly its size. A page as read holds buffers sized for a
// full page of the limit asked for, which would be kept whole; and with no
// room left, no caller's append can write into a kept page.
func newKeptPage(items []RawOrder, hasMore bool) keptPage {
	n := 0
	for _, o := range items {
		n += len(o.JSON)
	}
	bodies := make([]byte, 0, n)
	out := make([]RawOrder, len(items))
	for i, o := range items {
		start := len(bodies)
		bodies = append(bodies, o.JSON...)
		out[i] = RawOrder{ID: o.ID, JSON: bodies[start:len(bodies):len(bodies)]}
	}
	return keptPage{items: out, hasMore: hasMore}
}

// keptPageOverhead is what a kept page holds besides its orders (its map
// entry, its slice), so that empty pages count too.
const keptPageOverhead = 128

// size is about the memory p holds.
func (p keptPage) size() int {
	n := keptPageOverhead + len(p.items)*int(unsafe.Sizeof(RawOrder{}))
	for _, o := range p.items {
		n += len(o.JSON) + len(o.ID)
	}
	return n
}

func newFirstPages() *firstPages {
	c := &firstPages{}
	users, err := lru.NewLRU(firstPagesUsers, func(_ string, pages map[pageKey]keptPage) { c.forget(pages) })
	if err != nil {
		panic(err) // only for a size below 1
	}
	c.users = users
	return c
}

// generation is the generation a query beginning now reads at or after.
func (c *firstPages) generation() uint64 { return c.gen.Load() }

// get returns user's kept page for key.
func (c *firstPages) get(user string, key pageKey) (keptPage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	pages, ok := c.users.Get(user)
	if !ok {
		return keptPage{}, false
	}
	p, ok := pages[key]
	return p, ok
}

// keep keeps user's page for key, read by a query that began at
// generation read, unless a commit changed orders since.
func (c *firstPages) keep(user string, key pageKey, read uint64, p keptPage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if read != c.gen.Load() {
		return
	}
	pages, ok := c.users.Get(user)
	if !ok {
		pages = make(map[pageKey]keptPage, 1)
		c.users.Add(user, pages)
	}
	if old, ok := pages[key]; ok {
		c.bytes -= old.size()
	}
	pages[key] = p
	c.bytes += p.size()
	for c.bytes > firstPagesBudget {
		c.users.RemoveOldest() // forgets its pages
	}
}

// changed drops the pages of users whose orders a commit just changed.
// Call it once the commit is done and before readers can learn of it.
func (c *firstPages) changed(users map[string]struct{}) {
	c.gen.Add(1)
	c.mu.Lock()
	defer c.mu.Unlock()
	for user := range users {
		c.users.Remove(user) // forgets its pages
	}
}

// forget drops pages from the budget's count.
func (c *firstPages) forget(pages map[pageKey]keptPage) {
	for _, p := range pages {
		c.bytes -= p.size()
	}
}

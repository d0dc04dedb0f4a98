package app

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore/sqlite"
)

// TestSnapshotsAskTheStoreOnceTheyAreOld: a cached state serves callers
// without a read until it is maxAge old; then the next load sees what
// another instance appended meanwhile.
func TestSnapshotsAskTheStoreOnceTheyAreOld(t *testing.T) {
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "events.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	l := NewLog(store, nil)
	clock := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	l.catalog.now = func() time.Time { return clock }
	plans := domain.DefaultPlans()
	if _, err := SyncCatalog(ctx, l, plans[:1], Metadata{}); err != nil {
		t.Fatal(err)
	}
	load := func() int {
		t.Helper()
		c, err := l.Catalog(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		return len(c.Plans())
	}
	if n := load(); n != 1 {
		t.Fatalf("%d plans, want 1", n)
	}
	other := NewLog(store, nil) // another instance on the same store
	if _, err := SyncCatalog(ctx, other, plans[:2], Metadata{}); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(snapshotMaxAge / 2)
	if n := load(); n != 1 {
		t.Fatalf("a state younger than maxAge was not used as it is: %d plans", n)
	}
	clock = clock.Add(snapshotMaxAge)
	if n := load(); n != 2 {
		t.Fatalf("a state older than maxAge was used without asking the store: %d plans, want 2", n)
	}
}

package esdbtest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/robotlabor/billing/eventstore/sqlite"
)

// New starts a server on a fresh embedded store in t's temporary
// directory; both close when t ends.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	ctx := context.Background()
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "esdb.db")})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Start(ctx, store, opts...)
	if err != nil {
		store.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return srv
}

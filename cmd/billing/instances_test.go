package main

import (
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
)

// TestTwoInstancesOnOneStore: two serve instances share one event store,
// one sandbox provider and one NATS, each with its own read models and its
// own reconciler. Traffic goes to both at once. Every paid order is charged
// once, every outcome is recorded once, and the BILLING stream holds the
// log exactly once.
func TestTwoInstancesOnOneStore(t *testing.T) {
	f := startNATS(t)
	shared := t.TempDir()
	t.Setenv("BILLING_EVENTSTORE_URL", "sqlite:"+filepath.Join(shared, "events.db"))
	t.Setenv("BILLING_SANDBOX_PATH", filepath.Join(shared, "sandbox.db"))
	t.Setenv("BILLING_JWT_SECRET", "a-secret-both-instances-share-0123456789")
	a := startServiceOn(t, t.TempDir(), f.url)
	b := startServiceOn(t, t.TempDir(), f.url)

	var wg sync.WaitGroup
	for i, s := range []*service{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scenario(t, s, []string{"ann", "ben", "cat", "dan"}[i])
		}()
	}
	wg.Wait()
	relayed(t, a)
	relayed(t, b)
	streamMatchesExport(t, f.js, a.Config.DataDir)

	paid, outcomes := 0, map[string]int{}
	evs, err := a.Store.ReadAll(context.Background(), eventstore.Start, 10000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		switch e.Type {
		case domain.EventOrderPaid, domain.EventOrderPaymentFailed, domain.EventOrderRefunded, domain.EventSubscriptionStarted, domain.EventSubscriptionCanceled:
			outcomes[e.Stream+" "+e.Type]++
			if e.Type == domain.EventOrderPaid {
				paid++
			}
		}
	}
	for k, n := range outcomes {
		if n != 1 {
			t.Errorf("%s recorded %d times", k, n)
		}
	}
	if charges := a.sandboxCharges(t); charges != paid {
		t.Fatalf("the provider charged %d times for %d paid orders", charges, paid)
	}
	if _, _, err := runCLI(t, b.Config.DataDir, "verify"); err != nil {
		t.Fatalf("verify on the second instance: %v", err)
	}
}

package sandbox

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"
)

// run starts Run; stop ends it and fails the test if Run returned an error.
func (e *env) run() (stop func()) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	sb := e.sb
	go func() { done <- sb.Run(ctx) }()
	return func() {
		e.t.Helper()
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run = %v, want nil after cancel", err)
		}
	}
}

func TestFailedDeliveryIsRetriedByRunUntilItSucceeds(t *testing.T) {
	e := newEnv(t)
	e.inbox.failures = 2
	ss := e.session(e.customer(), "")

	got := e.post(ss.URL, typedCard("4242424242424242"))

	if got.status != http.StatusOK {
		t.Fatalf("status = %d, want 200: the card is saved even though the ledger did not take it", got.status)
	}
	if n := len(e.inbox.events()); n != 0 {
		t.Fatalf("completions = %d before Run, want 0", n)
	}
	stop := e.run()
	eventually(t, "redelivery", func() bool { return len(e.inbox.events()) == 1 })
	time.Sleep(50 * time.Millisecond) // several more rounds of Run
	stop()

	if n, calls := len(e.inbox.events()), e.inbox.callCount(); n != 1 || calls != 3 {
		t.Errorf("completions = %d in %d calls, want 1 in 3 (two failures)", n, calls)
	}
	if ev := e.inbox.events()[0]; ev.ProviderSessionID != ss.ProviderSessionID {
		t.Errorf("delivered %+v", ev)
	}
}

func TestUndeliveredCompletionIsDeliveredAfterReopen(t *testing.T) {
	e := newEnv(t)
	e.inbox.failures = 1
	ss := e.session(e.customer(), "")
	if got := e.post(ss.URL, typedCard("4242424242424242")); got.status != http.StatusOK {
		t.Fatalf("status = %d", got.status)
	}

	e.reopen()
	stop := e.run()
	eventually(t, "delivery after reopen", func() bool { return len(e.inbox.events()) == 1 })
	stop()
}

func TestDeliveredCompletionIsNotDeliveredAgain(t *testing.T) {
	e := newEnv(t)
	ss := e.session(e.customer(), "")
	if got := e.post(ss.URL, typedCard("4242424242424242")); got.status != http.StatusOK {
		t.Fatalf("status = %d", got.status)
	}
	stop := e.run()
	time.Sleep(30 * time.Millisecond)
	stop()

	e.reopen()
	stop = e.run()
	time.Sleep(30 * time.Millisecond)
	stop()

	if calls := e.inbox.callCount(); calls != 1 {
		t.Errorf("OnSetupCompleted calls = %d, want 1", calls)
	}
}

func TestRunReturnsNilWhenItsContextEnds(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	if err := e.sb.Run(ctx); err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
}

func TestPageAndRunTogetherDeliverEachCompletionOnce(t *testing.T) {
	e := newEnv(t)
	cus := e.customer()
	sessions := make([]string, 20)
	for i := range sessions {
		sessions[i] = e.session(cus, "").URL
	}
	stop := e.run()

	var wg sync.WaitGroup
	for _, u := range sessions {
		wg.Go(func() {
			if got := e.post(u, typedCard("4242424242424242")); got.status != http.StatusOK {
				t.Errorf("POST = %d", got.status)
			}
		})
	}
	wg.Wait()
	time.Sleep(30 * time.Millisecond)
	stop()

	seen := map[string]bool{}
	for _, ev := range e.inbox.events() {
		if seen[ev.ProviderEventID] {
			t.Errorf("%s delivered twice", ev.ProviderEventID)
		}
		seen[ev.ProviderEventID] = true
	}
	if len(seen) != len(sessions) {
		t.Errorf("completions = %d, want %d", len(seen), len(sessions))
	}
}

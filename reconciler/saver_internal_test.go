package reconciler

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/robotlabor/billing/eventstore"
)

// saver is a reconciler with only what saveInOrder uses, and its runs.
func saver(t *testing.T) (*Reconciler, chan *batchRun, <-chan error) {
	t.Helper()
	cp, err := openCheckpoints(context.Background(), filepath.Join(t.TempDir(), "reconciler.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.close() })
	r := &Reconciler{cp: cp, cfg: Config{RetryMin: time.Millisecond}}
	runs := make(chan *batchRun, unsaved)
	errc := make(chan error, 1)
	go func() { errc <- r.saveInOrder(context.Background(), runs) }()
	return r, runs, errc
}

// handledRun is a run of the log up to last, handled.
func handledRun(last eventstore.Position) *batchRun {
	b := &batchRun{last: last, done: make(chan struct{})}
	close(b.done)
	return b
}

// untilSaved waits for the checkpoint to reach pos.
func untilSaved(t *testing.T, r *Reconciler, pos eventstore.Position) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); r.Position() != pos; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("checkpoint at %d, want %d", r.Position(), pos)
		}
	}
}

func savedAt(t *testing.T, r *Reconciler) eventstore.Position {
	t.Helper()
	p, err := r.cp.load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A run still being handled holds the checkpoint before it, whatever was
// handled after it; once it is handled, everything up to the last run is
// saved, with the events it parked.
func TestCheckpointWaitsForTheRunBeingHandled(t *testing.T) {
	r, runs, errc := saver(t)
	runs <- handledRun(10)
	stuck := &batchRun{last: 20, done: make(chan struct{})}
	runs <- stuck
	for i := 3; i <= 29; i++ {
		runs <- handledRun(eventstore.Position(i * 10))
	}
	untilSaved(t, r, 10)
	if p := savedAt(t, r); p != 10 {
		t.Fatalf("checkpoint saved at %d while the run up to 20 is being handled, want 10", p)
	}

	stuck.park = []eventstore.Position{15}
	close(stuck.done)
	untilSaved(t, r, 290)
	close(runs)
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if parked, err := r.cp.isParked(context.Background(), 15); err != nil || !parked {
		t.Errorf("the event the run parked: parked %v, %v; want parked with the checkpoint past it", parked, err)
	}
}

// A stop saves what was handled, also when the last save was a moment ago,
// up to the first run abandoned.
func TestStopSavesWhatWasHandled(t *testing.T) {
	for _, abandoned := range []bool{false, true} {
		r, runs, errc := saver(t)
		runs <- handledRun(1)
		untilSaved(t, r, 1)
		runs <- handledRun(2)
		third := handledRun(3)
		third.abandoned.Store(abandoned)
		runs <- third
		runs <- handledRun(4)
		close(runs)
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		want := eventstore.Position(4)
		if abandoned {
			want = 2
		}
		if p := savedAt(t, r); p != want {
			t.Errorf("run 3 abandoned %v: checkpoint saved at %d, want %d", abandoned, p, want)
		}
	}
}

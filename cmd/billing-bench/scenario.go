package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"
)

// phase is one step of a scenario that every virtual user runs at once.
type phase struct {
	name  string
	timed bool // a warm-up, then -duration; otherwise until every user is done
	step  func(u *user, ctx context.Context) error
}

// phaseResult is what a phase measured.
type phaseResult struct {
	name     string
	timed    bool
	rec      *recorder     // every user's figures, merged
	window   time.Duration // the measured wall time
	warmup   time.Duration
	users    []*user // the users whose step succeeded
	failed   int
	firstErr error
}

// scenarioPhases are the phases of cfg's scenario. The setup and fill
// phases are measured whole, as their own routes; only load is timed.
func scenarioPhases(cfg config) []phase {
	if cfg.Scenario == "renewals" {
		return []phase{
			{name: "setup", step: (*user).ensureCard},
			{name: "subscribe", step: (*user).subscribe},
			{name: "advance", step: (*user).advanceAMonth},
		}
	}
	if cfg.Scenario == "list" {
		return []phase{
			{name: "setup", step: (*user).ensureCard},
			{name: "fill", step: (*user).fillPage},
			{name: "load", timed: true, step: (*user).pageLoop},
		}
	}
	return []phase{
		{name: "setup", step: (*user).saveCard},
		{name: "load", timed: true, step: (*user).orderLoop},
	}
}

// runScenario runs the phases in turn; a user whose step failed sits out
// the next phases. It stops early when ctx ends.
func runScenario(ctx context.Context, cfg config, users []*user, progress io.Writer) ([]phaseResult, error) {
	var results []phaseResult
	for _, p := range scenarioPhases(cfg) {
		if p.timed {
			fmt.Fprintf(progress, "%s: %d users, %s warm-up, then %s measured\n", p.name, len(users), cfg.Warmup, cfg.Duration)
		} else {
			fmt.Fprintf(progress, "%s: %d users\n", p.name, len(users))
		}
		res := runPhase(ctx, cfg, users, p)
		results = append(results, res)
		fmt.Fprintf(progress, "%s: done after %s, %d users failed\n", p.name, (res.warmup + res.window).Round(time.Millisecond), res.failed)
		if ctx.Err() != nil {
			fmt.Fprintln(progress, "interrupted")
			return results, nil
		}
		if len(res.users) == 0 {
			return results, fmt.Errorf("%s: every user failed; the first: %w", p.name, res.firstErr)
		}
		users = res.users
	}
	return results, nil
}

// runPhase runs p's step for every user at once, each goroutine recording
// into its own recorder, and merges them when all are done. A timed phase
// sends no request after its deadline but lets those in flight finish;
// ctrl-C (ctx) aborts them, and they are not recorded.
func runPhase(ctx context.Context, cfg config, users []*user, p phase) phaseResult {
	start := time.Now()
	from, deadline := start, time.Time{}
	if p.timed {
		from = start.Add(cfg.Warmup)
		deadline = from.Add(cfg.Duration)
	}
	halt, cancel := haltAt(ctx, deadline)
	defer cancel()
	interrupted := make(chan time.Time, 1)
	defer context.AfterFunc(ctx, func() { interrupted <- time.Now() })()

	maxLatency := cfg.Timeout + time.Second
	recs, errs := make([]*recorder, len(users)), make([]error, len(users))
	var wg sync.WaitGroup
	for i, u := range users {
		recs[i] = newRecorder(from, maxLatency)
		u.rec, u.halt = recs[i], halt
		wg.Go(func() { errs[i] = p.step(u, ctx) })
	}
	wg.Wait()

	end := time.Now()
	if p.timed && deadline.Before(end) {
		end = deadline
	}
	select {
	case t := <-interrupted:
		end = earliest(end, t)
	default:
	}
	res := phaseResult{name: p.name, timed: p.timed, window: max(0, end.Sub(from)), warmup: from.Sub(start)}
	res.collect(users, recs, errs, newRecorder(from, maxLatency))
	return res
}

// collect merges the users' recorders into total and sorts the users
// whose step succeeded from those whose step failed.
func (res *phaseResult) collect(users []*user, recs []*recorder, errs []error, total *recorder) {
	res.rec = total
	for i, u := range users {
		total.merge(recs[i])
		if errs[i] == nil {
			res.users = append(res.users, u)
			continue
		}
		if res.failed++; res.firstErr == nil {
			res.firstErr = errs[i]
		}
	}
}

// haltAt is done when a phase must send no new request: at the deadline,
// if any, or when ctx ends.
func haltAt(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	if deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithDeadline(ctx, deadline)
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/robotlabor/billing/audit"
	"github.com/robotlabor/billing/domain"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
	"github.com/robotlabor/billing/internal/seed"
	"github.com/robotlabor/billing/projections"
)

// replayOrders is the size of the log BenchmarkReplay folds: a million
// events is -replay.orders 500000 (each order is placed and paid).
var replayOrders = flag.Int("replay.orders", 50000, "orders in the log BenchmarkReplay replays (2 events each)")

// replayLog, when set, is a directory that keeps the seeded and sealed
// log between runs: seeding a million events takes minutes, the replays
// seconds. A log already there is used whatever -replay.orders says.
var replayLog = flag.String("replay.log", "", "keep the seeded log in this directory and reuse it when there")

// replayInterleave seeds a log whose users' orders interleave (see
// seed.Config.Interleave) instead of coming user after user.
var replayInterleave = flag.Bool("replay.interleave", false, "seed a log whose users' orders interleave, as users ordering now and then make")

// BenchmarkReplay measures what auditors run on a whole log: rebuilding
// the read models, verifying them, exporting the log, and checking its
// hashes and seals (live and from an export file), in events per second. The log is seeded once (internal/seed); each sub-benchmark's
// iteration replays all of it.
//
//	go test -run '^$' -bench Replay -benchtime 1x -replay.orders 500000 ./cmd/billing/
func BenchmarkReplay(b *testing.B) {
	ctx := context.Background()
	logDir, dir := *replayLog, b.TempDir()
	if logDir == "" {
		logDir = dir
	}
	seals := seedReplayLog(b, filepath.Join(logDir, "events.db"))
	// As the auditors' commands open it (openLogReadOnly).
	store, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(logDir, "events.db"), ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	events := eventCount(b, store)
	b.Logf("%d events, %d seals", events, seals)
	path := filepath.Join(dir, "readmodels.db")
	perSecond := func(b *testing.B) {
		b.ReportMetric(float64(events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	}
	b.Run("rebuild", func(b *testing.B) {
		for b.Loop() {
			if err := projections.Rebuild(ctx, store, path, nil); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b)
	})
	b.Run("verify", func(b *testing.B) {
		for b.Loop() {
			diffs, err := projections.Verify(ctx, store, path, nil)
			if err != nil || len(diffs) > 0 {
				b.Fatalf("verify: %v %v", err, diffs)
			}
		}
		perSecond(b)
	})
	b.Run("export", func(b *testing.B) {
		for b.Loop() {
			if err := export(ctx, store, exportFilter{}, io.Discard, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
		perSecond(b)
	})
	b.Run("audit-verify-live", func(b *testing.B) {
		for b.Loop() {
			auditVerify(b, func(v *audit.Verifier) error { return audit.VerifyStore(ctx, store, v, nil) }, seals)
		}
		perSecond(b)
	})
	b.Run("audit-verify-file", func(b *testing.B) {
		file := filepath.Join(dir, "log.ndjson")
		f, err := os.Create(file)
		if err != nil {
			b.Fatal(err)
		}
		if err := export(ctx, store, exportFilter{}, f, io.Discard); err != nil {
			b.Fatal(err)
		}
		f.Close()
		for b.Loop() { // its first call starts the clock
			auditVerify(b, func(v *audit.Verifier) error { return verifyFile(file, nil, v, io.Discard) }, seals)
		}
		perSecond(b)
	})
}

// seedReplayLog seeds and seals the log at path, as serve appends, unless
// it is there already (-replay.log), and returns how many seals it has.
func seedReplayLog(b *testing.B, path string) int {
	b.Helper()
	ctx := context.Background()
	_, err := os.Stat(path)
	fresh := errors.Is(err, fs.ErrNotExist)
	store, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	chained := audit.Chain(store) // as serve appends
	start := time.Now()
	if fresh {
		err = seed.History(ctx, chained, seed.Config{Orders: *replayOrders, HeavyUser: "heavy", HeavyOrders: *replayOrders / 10, Users: 1 + *replayOrders/100,
			Interleave: *replayInterleave})
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded in %v", time.Since(start).Round(time.Millisecond))
		start = time.Now()
		if _, err := (&audit.Sealer{Store: chained, Now: time.Now}).SealAll(ctx); err != nil {
			b.Fatal(err)
		}
		b.Logf("sealed in %v", time.Since(start).Round(time.Millisecond))
	}
	seals, err := store.ReadStream(ctx, domain.AuditStream, eventstore.Backwards, eventstore.End, 1)
	if err != nil {
		b.Fatal(err)
	}
	return int(seals[0].Revision) + 1
}

// auditVerify runs one verification and checks it passed every seal.
func auditVerify(b *testing.B, run func(*audit.Verifier) error, seals int) {
	v := audit.NewVerifier()
	if err := run(v); err != nil {
		b.Fatal(err)
	}
	if rep, err := v.Finish(); err != nil || rep.Seals != uint64(seals) || rep.Unsealed != 0 {
		b.Fatalf("audit verify: %+v, %v", rep, err)
	}
}

func eventCount(b *testing.B, store eventstore.Store) int {
	b.Helper()
	n := 0
	for pos := eventstore.Start; ; {
		evs, err := store.ReadAll(context.Background(), pos, 4096)
		if err != nil {
			b.Fatal(err)
		}
		if len(evs) == 0 {
			return n
		}
		n += len(evs)
		pos = evs[len(evs)-1].Position
	}
}

// sizes parses a comma-separated list of counts ("1000,1000000").
func sizes(b *testing.B, list string) []int {
	b.Helper()
	var out []int
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			b.Fatalf("bad size %q in %q", s, list)
		}
		out = append(out, n)
	}
	return out
}

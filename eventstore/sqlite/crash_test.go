package sqlite_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/robotlabor/billing/eventstore"
	"github.com/robotlabor/billing/eventstore/sqlite"
)

// crashChildEnv makes the test binary act as the crashing appender.
const crashChildEnv = "BILLING_TEST_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChildEnv); path != "" {
		crashChild(path)
		return
	}
	os.Exit(m.Run())
}

// crashChild appends pairs of events from several goroutines until it is
// killed, printing "stream revision id1 id2" for every append that returned
// success: each line is a promise the store must keep after the crash.
func crashChild(path string) {
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	var mu sync.Mutex
	for g := 0; g < 8; g++ {
		go func() {
			stream := "crash-" + uuid.NewString()
			exp := eventstore.NoStream
			for {
				a, b := uuid.New(), uuid.New()
				res, err := s.Append(context.Background(), stream, exp,
					eventstore.EventData{ID: a, Type: "first", Data: payload},
					eventstore.EventData{ID: b, Type: "second", Data: payload})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(3)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%s %d %s %s\n", stream, res.Revision, a, b)
				mu.Unlock()
				exp = eventstore.Exact(res.Revision)
			}
		}()
	}
	select {}
}

// TestKillNineLosesNoAcknowledgedAppend: a child appends in a loop and is
// killed with SIGKILL, three times over on one store. After each crash the
// store opens cleanly, every acknowledged append is there exactly once, and
// no append is half-written.
func TestKillNineLosesNoAcknowledgedAppend(t *testing.T) {
	path := filepath.Join(t.TempDir(), "events.db")
	acked := map[uuid.UUID]bool{}
	for round := 0; round < 3; round++ {
		for _, line := range runAndKill(t, path, 1500) {
			f := strings.Fields(line)
			if len(f) != 4 {
				t.Fatalf("child wrote %q", line)
			}
			for _, id := range f[2:] {
				acked[uuid.MustParse(id)] = true
			}
		}
		checkAfterCrash(t, path, acked)
	}
}

// runAndKill starts the child, kills it after it has acknowledged n appends,
// and returns every acknowledgement it wrote before dying.
func runAndKill(t *testing.T, path string, n int) []string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) == n {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
		}
	}
	cmd.Wait() //nolint:errcheck // killed on purpose
	if len(lines) < n {
		t.Fatalf("child acknowledged only %d appends before exiting: %s", len(lines), stderr.String())
	}
	return lines
}

func checkAfterCrash(t *testing.T, path string, acked map[uuid.UUID]bool) {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("reopen after SIGKILL: %v", err)
	}
	defer s.Close()
	seen := map[uuid.UUID]int{}
	perStream := map[string]int{}
	last := eventstore.Start
	for {
		evs, err := s.ReadAll(context.Background(), last, 4096)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			seen[e.ID]++
			perStream[e.Stream]++
			last = e.Position
		}
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Fatalf("acknowledged event %s is in the log %d times, want once", id, seen[id])
		}
	}
	for stream, n := range perStream {
		if n%2 != 0 {
			t.Fatalf("stream %s holds %d events: an append of two was half-written", stream, n)
		}
	}
	if _, err := s.Append(context.Background(), "after-crash-"+uuid.NewString(), eventstore.NoStream, event("e"), event("e")); err != nil {
		t.Fatalf("append after reopen: %v", err)
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/robotlabor/billing/auth"
)

// runAsBillingEnv makes the test binary run `billing` itself with the
// arguments in the variable, so process tests need no separate build.
const runAsBillingEnv = "BILLING_TEST_RUN_AS_BILLING"

func TestMain(m *testing.M) {
	if args := os.Getenv(runAsBillingEnv); args != "" {
		os.Args = append([]string{"billing"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	code := m.Run()
	stripeMockStop()
	os.Exit(code)
}

// process is `billing serve` running as a child process.
type process struct {
	cmd  *exec.Cmd
	base string
	done chan error
}

var servingLine = regexp.MustCompile(`msg="billing serving" http=(http://\S+)`)

// startProcess starts `billing serve` on dataDir and a free port, and
// returns once it answers /readyz. env adds variables (BILLING_NATS_URL).
func startProcess(t *testing.T, dataDir string, env ...string) *process {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runAsBillingEnv+"=serve", "BILLING_DATA_DIR="+dataDir, "BILLING_HTTP_ADDR=127.0.0.1:0", "BILLING_NATS_LISTEN=127.0.0.1:0")
	cmd.Env = append(cmd.Env, env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, done: make(chan error, 1)}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingLine.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() { p.cmd.Process.Kill() })
	select {
	case p.base = <-addr:
	case err := <-p.done:
		t.Fatalf("serve exited before serving: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	waitReady(t, p.base)
	return p
}

// waitReady polls /readyz until it answers 200 (bounded: a hang guard).
func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(base + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("serve never became ready")
}

// processUser is a client of a child process.
func processUser(t *testing.T, dataDir, base, user string) *client {
	t.Helper()
	key, err := auth.LoadOrCreateKey("", dataDir)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := auth.New(key, nil)
	tok, err := keys.Issue(user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &client{t: t, s: &service{base: base}, token: tok}
}

// postOrder places an order without failing the test on transport errors:
// under kill -9 some requests get no answer.
func postOrder(base, token string, body map[string]any) (status int, o order, err error) {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/me/wallet/orders", strings.NewReader(string(raw)))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := noKeepAlive.Do(req)
	if err != nil {
		return 0, o, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, o, err
	}
	if resp.StatusCode == http.StatusCreated {
		err = json.Unmarshal(b, &o)
	}
	return resp.StatusCode, o, err
}

var noKeepAlive = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}

// burst places orders with fresh keys from several goroutines until stop is
// closed; it returns the keys answered 201 (with their orders) and the keys
// whose outcome the client never learned.
func burst(base, token, pm string, stop <-chan struct{}, onCreated func(n int)) (created map[string]order, unknown []string) {
	var mu sync.Mutex
	created = map[string]order{}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := fmt.Sprintf("burst-%d-%d", g, i)
				status, o, err := postOrder(base, token, orderBody(pm, fixedPlan, key))
				mu.Lock()
				if err == nil && status == http.StatusCreated {
					created[key] = o
					onCreated(len(created))
				} else {
					unknown = append(unknown, key)
				}
				mu.Unlock()
				if err != nil {
					return // the server is gone
				}
			}
		}()
	}
	wg.Wait()
	return created, unknown
}

// TestKillNineUnderABurst: serve is killed with SIGKILL while orders pour
// in. After a restart every order that was answered 201 is listed exactly
// once and settles, its key replays it, keys with no answer place at most
// one order when retried, the provider charged each paid order once, and
// `billing verify` finds the read models equal to the log.
func TestKillNineUnderABurst(t *testing.T) {
	dir := t.TempDir()
	nf := startNATS(t)
	p := startProcess(t, dir, "BILLING_NATS_URL="+nf.url)
	alice := processUser(t, dir, p.base, "alice")
	pm := alice.saveCard(visa)

	// Killed at a random point of the burst (logged, to replay a failure).
	killAt := 20 + rand.IntN(80)
	t.Logf("killing serve after %d answered orders", killAt)
	stop := make(chan struct{})
	var once sync.Once
	created, unknown := burst(p.base, alice.token, pm, stop, func(n int) {
		if n == killAt {
			once.Do(func() {
				p.cmd.Process.Signal(syscall.SIGKILL)
				close(stop)
			})
		}
	})
	<-p.done
	if len(created) < killAt {
		t.Fatalf("only %d orders were answered before the kill", len(created))
	}

	p = startProcess(t, dir, "BILLING_NATS_URL="+nf.url)
	alice.s.base = p.base
	listed := ordersSurvived(t, alice, pm, created, unknown)
	if _, _, err := runCLI(t, dir, "verify"); err != nil {
		t.Fatalf("verify after the crash: %v", err)
	}
	for _, args := range [][]string{{"audit", "verify"}, {"audit", "seal"}, {"audit", "verify"}} {
		if out, _, err := runCLI(t, dir, args...); err != nil {
			t.Fatalf("%s after the crash: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	s := &service{Main: &Main{Config: Config{DataDir: dir}}}
	if charges := s.sandboxCharges(t); charges != len(listed) {
		t.Fatalf("the provider charged %d times for %d orders", charges, len(listed))
	}
	streamCaughtUp(t, nf.js, dir)
	streamMatchesExport(t, nf.js, dir)
}

// ordersSurvived checks a burst's orders after a disruption: each key with
// no answer places one order when retried, each key answered 201 replays
// its order, and every order settles and is listed exactly once. It
// returns how often each order id was listed.
func ordersSurvived(t *testing.T, c *client, pm string, created map[string]order, unknown []string) map[string]int {
	t.Helper()
	base := c.s.base
	for _, key := range unknown {
		if status, _, err := postOrder(base, c.token, orderBody(pm, fixedPlan, key)); err != nil || status != http.StatusCreated {
			t.Fatalf("retrying key %s after the disruption: %d %v", key, status, err)
		}
	}
	for key, o := range created {
		status, again, err := postOrder(base, c.token, orderBody(pm, fixedPlan, key))
		if err != nil || status != http.StatusCreated || again.ID != o.ID {
			t.Fatalf("key %s replayed as %d %s (%v), want order %s", key, status, again.ID, err, o.ID)
		}
	}
	listed := settledOrders(t, c, len(created)+len(unknown))
	for key, o := range created {
		if listed[o.ID] != 1 {
			t.Fatalf("order %s (key %s) listed %d times", o.ID, key, listed[o.ID])
		}
	}
	return listed
}

// streamCaughtUp waits until the BILLING stream holds as many messages as
// the log has events (a child process's relay is not visible otherwise).
func streamCaughtUp(t *testing.T, js jetstream.JetStream, dataDir string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, _, err := runCLI(t, dataDir, "events", "export")
		if err != nil {
			t.Fatal(err)
		}
		events := strings.Count(out, "\n")
		stream, err := js.Stream(context.Background(), "BILLING")
		if err == nil {
			if info, err := stream.Info(context.Background()); err == nil && int(info.State.Msgs) >= events {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream never caught up with the log's %d events", events)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settledOrders pages through the user's orders until there are want of
// them and none is pending (the reconciler settles what the crash left),
// and returns how often each id was listed.
func settledOrders(t *testing.T, c *client, want int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen, pending := map[string]int{}, 0
		for cursor := ""; ; {
			q := "?limit=100"
			if cursor != "" {
				q += "&after_public_id=" + cursor
			}
			page := c.orders(q)
			for _, o := range page.Data {
				seen[o.ID]++
				if o.Status == "pending" {
					pending++
				}
			}
			if !page.HasMore {
				break
			}
			cursor = page.NextCursor
		}
		if len(seen) == want && pending == 0 {
			return seen
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d orders listed (%d pending), want %d settled", len(seen), pending, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSIGTERMDrains: SIGTERM during a burst lets every accepted request
// finish with a whole answer, and serve exits cleanly.
func TestSIGTERMDrains(t *testing.T) {
	dir := t.TempDir()
	p := startProcess(t, dir)
	alice := processUser(t, dir, p.base, "alice")
	pm := alice.saveCard(visa)

	stop := make(chan struct{})
	var once sync.Once
	created, _ := burst(p.base, alice.token, pm, stop, func(n int) {
		if n == 30 {
			once.Do(func() {
				p.cmd.Process.Signal(syscall.SIGTERM)
				close(stop)
			})
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	select {
	case err := <-p.done:
		if err != nil {
			t.Fatalf("serve exited with %v after SIGTERM, want a clean exit", err)
		}
	case <-ctx.Done():
		t.Fatal("serve did not stop after SIGTERM")
	}
	p = startProcess(t, dir)
	alice.s.base = p.base
	listed := settledOrders(t, alice, len(alice.orders("?limit=100").Data))
	for key, o := range created {
		if listed[o.ID] != 1 {
			t.Fatalf("order %s (key %s) answered 201 before SIGTERM is listed %d times", o.ID, key, listed[o.ID])
		}
	}
}

// TestKillNineDuringAnAdvance: serve is killed with SIGKILL while a test
// clock advance renews many subscriptions. After a restart the same advance
// finishes what is left: every period of every subscription is charged
// exactly once, `billing verify` exits 0 and the NATS stream holds exactly
// the log.
func TestKillNineDuringAnAdvance(t *testing.T) {
	dir := t.TempDir()
	nf := startNATS(t)
	p := startProcess(t, dir, "BILLING_NATS_URL="+nf.url)
	alice := processUser(t, dir, p.base, "alice")
	pm := alice.saveCard(visa)
	const subs = 20
	var end time.Time
	for i := range subs {
		o := alice.buy(orderBody(pm, monthlyPlan, fmt.Sprintf("fleet-%d", i)))
		if o.Status != "paid" {
			t.Fatalf("subscription %d: first order %s", i, o.Status)
		}
	}
	for _, s := range alice.subscriptions() {
		if s.CurrentPeriodEnd.After(end) {
			end = *s.CurrentPeriodEnd
		}
	}
	to := end.AddDate(0, 2, 1) // three period ends of each subscription
	advance := map[string]any{"to": to.Format(time.RFC3339Nano)}

	answered := make(chan struct{})
	go func() {
		defer close(answered)
		raw, _ := json.Marshal(advance)
		req, _ := http.NewRequest(http.MethodPost, p.base+"/v1/me/test_clock/advance", strings.NewReader(string(raw)))
		req.Header.Set("Authorization", "Bearer "+alice.token)
		if resp, err := noKeepAlive.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	// Killed once some renewals are recorded, before all of them.
	killAt := subs + 1 + rand.IntN(subs)
	t.Logf("killing serve after %d orders", killAt)
	for deadline := time.Now().Add(30 * time.Second); len(alice.orders("?limit=100").Data) < killAt; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the advance renewed nothing")
		}
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
	<-answered

	p = startProcess(t, dir, "BILLING_NATS_URL="+nf.url)
	alice.s.base = p.base
	var clock testClock
	alice.want(alice.call(http.MethodPost, "/v1/me/test_clock/advance", advance), http.StatusOK, "").decode(t, &clock)
	if !clock.Now.Equal(to) {
		t.Fatalf("after the restart's advance the clock reads %v, want %v", clock.Now, to)
	}
	orders := settledOrders(t, alice, subs*4)
	for id, n := range orders {
		if n != 1 {
			t.Fatalf("order %s listed %d times", id, n)
		}
	}
	for _, s := range alice.subscriptions() {
		if s.Status != "active" || !s.CurrentPeriodEnd.After(to) {
			t.Fatalf("subscription %s after the advance: %s until %v, want active past %v", s.ID, s.Status, s.CurrentPeriodEnd, to)
		}
	}
	if _, _, err := runCLI(t, dir, "verify"); err != nil {
		t.Fatalf("verify after the crash: %v", err)
	}
	s := &service{Main: &Main{Config: Config{DataDir: dir}}}
	if charges := s.sandboxCharges(t); charges != subs*4 {
		t.Fatalf("the provider charged %d times for %d subscriptions' first payments and 3 renewals each", charges, subs)
	}
	streamCaughtUp(t, nf.js, dir)
	streamMatchesExport(t, nf.js, dir)
}

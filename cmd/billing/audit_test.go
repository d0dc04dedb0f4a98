package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLIWithStdin is runCLI reading stdin from in.
func runCLIWithStdin(t *testing.T, dataDir, in string, args ...string) (stdout string, err error) {
	t.Helper()
	t.Setenv("BILLING_DATA_DIR", dataDir)
	root := rootCommand()
	var out bytes.Buffer
	root.SetIn(strings.NewReader(in))
	root.SetOut(&out)
	root.SetErr(&bytes.Buffer{})
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), err
}

// TestAuditFromTheCommandLine walks what docs/audit.md tells an auditor:
// seal, export, verify the file, the live log and stdin, and catch an
// edited amount and a log cut short after a seal.
func TestAuditFromTheCommandLine(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)
	o := alice.buy(orderBody(pm, fixedPlan, "k1"))
	alice.want(alice.call("POST", "/v1/me/wallet/orders/"+o.ID+"/refund", nil), 200, "")
	sub := alice.buy(orderBody(pm, monthlyPlan, "k2"))
	var canceled subscription
	alice.want(alice.call("DELETE", "/v1/me/wallet/subscriptions/"+*sub.SubscriptionID, nil), 200, "").decode(t, &canceled)
	if canceled.Status != "canceled" {
		t.Fatalf("after DELETE: %+v", canceled)
	}

	// The reconciler records the provider's confirmation of the
	// cancellation: seal once it has read the whole log.
	eventually(t, func() bool { return uint64(s.Reconciler.Position()) >= mustHead(t, s) }, "the reconciler to settle the cancellation")
	out, _, err := runCLI(t, dir, "audit", "seal")
	if err != nil || !strings.HasPrefix(out, "seal 1: ") {
		t.Fatalf("audit seal: %v\n%s", err, out)
	}
	// Seal until nothing is left, then once more for nothing.
	eventually(t, func() bool {
		out, _, err := runCLI(t, dir, "audit", "seal")
		if err != nil {
			t.Fatal(err)
		}
		return strings.HasPrefix(out, "nothing to seal")
	}, "nothing left to seal")
	export, _, err := runCLI(t, dir, "events", "export")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "log.ndjson")
	write(t, file, export)
	for _, args := range [][]string{{"audit", "verify", file}, {"audit", "verify"}} {
		out, _, err := runCLI(t, dir, args...)
		if err != nil || !strings.HasPrefix(out, "ok: ") || !strings.Contains(out, "last seal: ") || strings.Contains(out, "after the last seal") {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if out, err := runCLIWithStdin(t, dir, export, "audit", "verify", "-"); err != nil || !strings.HasPrefix(out, "ok: ") {
		t.Fatalf("audit verify - : %v\n%s", err, out)
	}

	// One amount edited in the file: the error names that event.
	lines := strings.Split(strings.TrimSpace(export), "\n")
	edited, id := -1, ""
	for i, l := range lines {
		if strings.Contains(l, `"type":"order.placed"`) && strings.Contains(l, `"order_id":"`+o.ID+`"`) {
			edited, id = i, l[len(`{"id":"`):len(`{"id":"`)+36]
		}
	}
	if edited < 0 {
		t.Fatalf("no order.placed of %s in the export", o.ID)
	}
	tampered := append([]string(nil), lines...)
	tampered[edited] = strings.Replace(tampered[edited], `"amount":4900`, `"amount":490`, 1)
	write(t, file, strings.Join(tampered, "\n")+"\n")
	_, _, err = runCLI(t, dir, "audit", "verify", file)
	if err == nil || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "do not match its hash") {
		t.Fatalf("verify of an edited amount: %v; want an error naming event %s", err, id)
	}

	// Cut short after the seal's range but before the seal, with the
	// seals kept elsewhere (NATS, or an earlier export of the audit stream).
	seals, _, err := runCLI(t, dir, "events", "export", "--stream", "audit")
	if err != nil {
		t.Fatal(err)
	}
	sealsFile := filepath.Join(t.TempDir(), "seals.ndjson")
	write(t, sealsFile, seals)
	last := -1
	for i, l := range lines {
		if strings.Contains(l, `"type":"audit.sealed"`) {
			last = i
		}
	}
	write(t, file, strings.Join(lines[:last], "\n")+"\n")
	if _, _, err := runCLI(t, dir, "audit", "verify", file); err != nil {
		t.Fatalf("a log cut before its last seal is a valid older log without the pinned seals: %v", err)
	}
	_, _, err = runCLI(t, dir, "audit", "verify", file, "--seals", sealsFile)
	if err == nil || !strings.Contains(err.Error(), "without pinned seal") {
		t.Fatalf("verify of a log cut short, with the seals kept: %v", err)
	}
}

// TestACleanStopSealsTheLog: what arrived since the last seal is sealed
// when serve stops cleanly.
func TestACleanStopSealsTheLog(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	alice := s.user(t, "alice")
	alice.buy(orderBody(alice.saveCard(visa), fixedPlan, "k1"))
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, dir, "audit", "verify")
	if err != nil || !strings.Contains(out, "last seal: ") || strings.Contains(out, "after the last seal") {
		t.Fatalf("audit verify after a clean stop: %v\n%s", err, out)
	}
}

func write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

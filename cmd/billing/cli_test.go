package main

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runCLI runs `billing args...` in-process against dataDir.
func runCLI(t *testing.T, dataDir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	t.Setenv("BILLING_DATA_DIR", dataDir)
	root := rootCommand()
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err = root.ExecuteContext(context.Background())
	return out.String(), errOut.String(), err
}

func TestTokenCommandSignsWithServesKey(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	out, _, err := runCLI(t, dir, "token", "--user", "carol")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	carol := &client{t: t, s: s, token: lines[len(lines)-1]}
	carol.want(carol.call("GET", "/v1/me/wallet/orders", nil), 200, "")
	if _, _, err := runCLI(t, dir, "token"); err == nil {
		t.Fatal("token without --user succeeded")
	}
}

// TestVerifyAndRebuild: verify works beside a running serve and finds the
// read models equal to the log; rebuild is refused while serve holds them
// and works once it stopped; a tampered read model is reported.
func TestVerifyAndRebuild(t *testing.T) {
	dir := t.TempDir()
	s := startService(t, dir)
	alice := s.user(t, "alice")
	pm := alice.saveCard(visa)
	o := alice.buy(orderBody(pm, fixedPlan, "k1"))
	alice.want(alice.call("POST", "/v1/me/wallet/orders/"+o.ID+"/refund", nil), 200, "")
	alice.buy(orderBody(alice.saveCard(declines), monthlyPlan, "k2"))

	if out, _, err := runCLI(t, dir, "verify"); err != nil {
		t.Fatalf("verify beside serve: %v\n%s", err, out)
	}
	_, _, err := runCLI(t, dir, "projections", "rebuild")
	if err == nil || !strings.Contains(err.Error(), "billing serve") {
		t.Fatalf("rebuild while serve runs: %v, want a refusal naming serve", err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, dir, "projections", "rebuild"); err != nil {
		t.Fatalf("rebuild after serve stopped: %v", err)
	}
	if _, _, err := runCLI(t, dir, "verify"); err != nil {
		t.Fatalf("verify after rebuild: %v", err)
	}

	db, err := sql.Open("sqlite", "file:"+dir+"/readmodels.db")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE orders SET amount = amount + 1 WHERE id = ?`, o.ID); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, _, err := runCLI(t, dir, "verify")
	if err == nil || !strings.Contains(out, o.ID) {
		t.Fatalf("verify of a tampered read model: %v, output %q; want a failure naming %s", err, out, o.ID)
	}
}

func TestHealthCommandProbesServe(t *testing.T) {
	s := startService(t, t.TempDir())
	addr := strings.TrimPrefix(s.base, "http://")
	if _, _, err := runCLI(t, t.TempDir(), "health", "--http-addr", addr); err != nil {
		t.Fatalf("health of a running serve: %v", err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, t.TempDir(), "health", "--http-addr", addr); err == nil {
		t.Fatal("health of a stopped serve succeeded")
	}
}

// TestTokenFromTheWrongDirectoryIsRefused: `billing token` on a data dir
// with no key says so instead of creating one whose tokens serve refuses;
// --init creates it; the key file used is named on stderr. A token made
// with another key is refused by serve saying why.
func TestTokenFromTheWrongDirectoryIsRefused(t *testing.T) {
	served, elsewhere := t.TempDir(), t.TempDir()
	t.Setenv("BILLING_JWT_SECRET", "")
	s := startService(t, served)
	if _, _, err := runCLI(t, elsewhere, "token", "--user", "carol"); err == nil || !strings.Contains(err.Error(), "--init") {
		t.Fatalf("token on a data dir without a key: %v, want refused, suggesting --init", err)
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Fatalf("a refused token command wrote %s", entries[0].Name())
	}
	out, stderr, err := runCLI(t, elsewhere, "token", "--user", "carol", "--init")
	if err != nil || !strings.Contains(stderr, filepath.Join(elsewhere, "jwt.key")) {
		t.Fatalf("token --init: %v, stderr %q; want the key file named", err, stderr)
	}
	carol := &client{t: t, s: s, token: strings.TrimSpace(out)}
	a := carol.want(carol.call("GET", "/v1/me/wallet/orders", nil), 401, "unauthorized")
	if !strings.Contains(string(a.body), "another key") {
		t.Fatalf("401 for a token of another key: %s, want the reason", a.body)
	}
}

// TestServeHelpListsEverySetting: every variable of operations.md's
// configuration table is named in serve --help, as a flag's env var or
// among the settings read from the environment only; and verify shows
// only the flags it uses.
func TestServeHelpListsEverySetting(t *testing.T) {
	help, _, err := runCLI(t, t.TempDir(), "serve", "--help")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile("(?m)^\\| `(BILLING_[A-Z_]+)`").FindAllStringSubmatch(string(doc), -1)
	if len(names) < 20 {
		t.Fatalf("found %d variables in operations.md's table", len(names))
	}
	for _, m := range names {
		if !strings.Contains(help, m[1]) {
			t.Errorf("serve --help does not name %s", m[1])
		}
	}
	verify, _, err := runCLI(t, t.TempDir(), "verify", "--help")
	if err != nil || strings.Contains(verify, "--jwt-secret") || strings.Contains(verify, "--http-addr") {
		t.Errorf("verify --help shows flags it does not use:\n%s", verify)
	}
}

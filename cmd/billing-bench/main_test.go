package main

import (
	"io"
	"testing"
	"time"
)

func TestFlagDefaults(t *testing.T) {
	t.Setenv("BILLING_JWT_SECRET", "")
	t.Setenv("BILLING_DATA_DIR", "")
	got, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		URL: "http://127.0.0.1:8080", Scenario: "orders", Users: 64, Duration: 30 * time.Second,
		Warmup: 2 * time.Second, RefundEvery: 10, ListEvery: 5, CustomEvery: 4,
		Timeout: 30 * time.Second, DataDir: "./data",
	}
	if got != want {
		t.Errorf("defaults = %+v, want %+v", got, want)
	}
}

func TestBadFlagsAreRefused(t *testing.T) {
	for _, args := range [][]string{
		{"-url", "127.0.0.1:8080"},
		{"-users", "0"},
		{"-duration", "0s"},
		{"-refund-every", "-1"},
		{"-scenario", "bogus"},
		{"-data-dir", "", "-jwt-secret", ""},
		{"extra"},
	} {
		if _, err := parseFlags(args, io.Discard); err == nil {
			t.Errorf("parseFlags(%q) accepted", args)
		}
	}
}

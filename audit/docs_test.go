package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/robotlabor/billing/eventstore"
)

// block returns the fenced block that follows marker in doc.
func block(t *testing.T, doc, marker string) string {
	t.Helper()
	_, after, ok := strings.Cut(doc, marker)
	if !ok {
		t.Fatalf("docs/events.md has no %q", marker)
	}
	_, after, _ = strings.Cut(after, "```")
	_, body, _ := strings.Cut(after, "\n") // the fence's language
	body, _, _ = strings.Cut(body, "```")
	return strings.TrimSuffix(body, "\n")
}

// The worked example of docs/events.md is what the code computes, so a
// third party can write a verifier from the page.
func TestTheDocumentedHashExample(t *testing.T) {
	raw, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	var line bytes.Buffer
	if err := json.Compact(&line, []byte(block(t, doc, "<!-- hash example: event -->"))); err != nil {
		t.Fatal(err)
	}
	var e eventstore.RecordedEvent
	if err := ReadExport(&line, func(r eventstore.RecordedEvent) error { e = r; return nil }); err != nil {
		t.Fatal(err)
	}
	_, stated, err := splitMetadata(e.Metadata)
	if err != nil {
		t.Fatal(err)
	}
	var h hasher
	sum, _, err := h.sum(&e, stated.prev)
	if err != nil {
		t.Fatal(err)
	}
	if want := block(t, doc, "<!-- hash example: canonical form -->"); string(h.buf) != want {
		t.Errorf("the canonical form is\n%s\nthe page says\n%s", h.buf, want)
	}
	if sum != stated.hash {
		t.Errorf("the event's hash is %s, the page says %s", sum, stated.hash)
	}
	if digest := sha256.Sum256(h.buf); hex.EncodeToString(digest[:]) != sum {
		t.Errorf("the hash is not the SHA-256 of the canonical form")
	}
}

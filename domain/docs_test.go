package domain_test

import (
	"os"
	"strings"
	"testing"

	"github.com/robotlabor/billing/domain"
)

// The events catalog documents every stored type.
func TestEventsCatalogDocumentsEveryType(t *testing.T) {
	data, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatalf("read the events catalog: %v", err)
	}
	doc := string(data)
	for _, typ := range domain.EventTypes() {
		if !strings.Contains(doc, "`"+typ+"`") {
			t.Errorf("docs/events.md does not document `%s`", typ)
		}
	}
}

package app_test

import (
	"encoding/json"
	"testing"

	"github.com/robotlabor/billing/app"
)

// TestDecodeMetadataIsEncodingJSON: whatever the metadata, DecodeMetadata
// gives what json.Unmarshal gives, value and whether it failed.
func TestDecodeMetadataIsEncodingJSON(t *testing.T) {
	for _, text := range []string{
		// As the log holds it, chained.
		`{"causation_id":"6a1f0b8e-6a55-5a6b-9d3e-1b0f0e1e2b3c","correlation_id":"req_eb9c390a75a8ce1f2d9f0cbb","hash":"f41ab790dfcd89a423adb58052b09cca0067d9782dbe2a21160f9010917e105f","idempotency_key":"first-pack","prev_hash":"","user_id":"user_42"}`,
		`{"correlation_id":"c","user_id":"u"}`,
		`{}`,
		` { "user_id" : "u" , "correlation_id":"c" } `,
		`{"user_id":"first","user_id":"last"}`,
		// Left to encoding/json.
		``,
		`null`,
		`[]`,
		`{"user_id":null}`,
		`{"user_id":"caf\u00e9"}`,
		`{"user_id":"café"}`,
		`{"USER_ID":"other case"}`,
		`{"User_Id":"u","user_id":"v"}`,
		"{\"user_İd\":\"dotted I\"}",
		"{\"idempotency_Key\":\"Kelvin sign\"}",
		"{\"cauſation_id\":\"long s\"}",
		`{"hash":1,"user_id":"u"}`,
		`{"extra":{"nested":true},"user_id":"u"}`,
		`{"user_id":42}`,
		`{"user_id":"u"} trailing`,
		`{"user_id":"u"`,
		`{"user_id":"u",}`,
	} {
		var want app.Metadata
		wantErr := json.Unmarshal([]byte(text), &want)
		got, err := app.DecodeMetadata([]byte(text))
		if got != want || (err == nil) != (wantErr == nil) {
			t.Errorf("DecodeMetadata(%s) = %+v, %v; encoding/json: %+v, %v", text, got, err, want, wantErr)
		}
	}
}

// BenchmarkDecodeMetadata is the cost of reading a chained event's
// metadata, as the reconciler does for every order it charges:
// go test -bench DecodeMetadata -benchmem ./app
func BenchmarkDecodeMetadata(b *testing.B) {
	meta := []byte(`{"causation_id":"6a1f0b8e-6a55-5a6b-9d3e-1b0f0e1e2b3c","correlation_id":"req_eb9c390a75a8ce1f2d9f0cbb","hash":"f41ab790dfcd89a423adb58052b09cca0067d9782dbe2a21160f9010917e105f","idempotency_key":"first-pack","prev_hash":"","user_id":"user_42"}`)
	b.Run("DecodeMetadata", func(b *testing.B) {
		for b.Loop() {
			if _, err := app.DecodeMetadata(meta); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			var m app.Metadata
			if err := json.Unmarshal(meta, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}

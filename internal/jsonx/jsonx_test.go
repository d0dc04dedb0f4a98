package jsonx_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/robotlabor/billing/internal/jsonx"
)

// encode is what encoding/json writes for v, without HTML escaping.
func encode(t *testing.T, v any) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

func TestAppendStringIsEncodingJSONs(t *testing.T) {
	for _, s := range []string{
		"", "ord_0123", "plan_robot_hours_10", `quote " and \ backslash`, "tab\tnew\nline\r\x00\x1f\x7f",
		"<token> & more", "é ü 日本", "\u2028\u2029", "bad \xff utf-8 \xc3", "emoji 🤖",
	} {
		got := string(jsonx.AppendString([]byte("x"), s))
		if want := "x" + encode(t, s); got != want {
			t.Errorf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
}

func TestAppendTimeIsEncodingJSONs(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 12, 4, 20, 34, 38, 123456789, time.UTC),
		time.Date(2026, 12, 4, 20, 34, 38, 0, time.UTC),
		time.Date(2026, 12, 4, 20, 34, 38, 120000000, time.FixedZone("CET", 3600)),
		{},
	} {
		if got, want := string(jsonx.AppendTime(nil, tm)), encode(t, tm); got != want {
			t.Errorf("AppendTime(%v) = %s, want %s", tm, got, want)
		}
	}
}

func TestPlainObjectAcceptsOnlyJSON(t *testing.T) {
	for _, tt := range []struct {
		text string
		want bool
	}{
		{`{"order_id":"ord_1","amount":4900,"refundable":true,"subscription_id":null}`, true},
		{` { "a" : -12 ,` + "\n" + `"b":false } `, true},
		{`{}`, true},
		{`{"a":"caf\u00e9"}`, false}, // JSON, but not plain: encoding/json decides
		{`{"a":{"b":1}}`, false},
		{`{"a":1.5}`, false},
		{`{"a":01}`, false},
		{`{"a":-}`, false},
		{`{"a":nul}`, false},
		{`{"a":"b"`, false},
		{`{"a":"b"}x`, false},
		{`{"a" "b"}`, false},
		{`{"a":1,}`, false},
		{`["a"]`, false},
		{``, false},
	} {
		if got := jsonx.PlainObject([]byte(tt.text)); got != tt.want {
			t.Errorf("PlainObject(%s) = %v, want %v", tt.text, got, tt.want)
		}
		if tt.want && !json.Valid([]byte(tt.text)) {
			t.Errorf("%s: the test's plain text is not JSON", tt.text)
		}
	}
}

func FuzzPlainObjectIsJSON(f *testing.F) {
	f.Add([]byte(`{"order_id":"ord_1","amount":4900,"ok":true,"x":null}`))
	f.Add([]byte(`{"a":-0,"b":"\u0041"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if jsonx.PlainObject(b) && !json.Valid(b) {
			t.Errorf("PlainObject(%q) but encoding/json refuses it", b)
		}
	})
}

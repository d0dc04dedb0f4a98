package http

import (
	"reflect"
	"testing"

	"github.com/robotlabor/billing/internal/jsontest"
)

// An order request read without reflection (orderRequest.decodePlain) must
// be exactly what encoding/json reads, and a body it does not read must be
// left to encoding/json untouched.
func TestOrderRequestsDecodeAsEncodingJSONDoes(t *testing.T) {
	bodies := []string{
		`{"plan_id":"plan_robot_hours_10","payment_method_id":"pm_1","idempotency_key":"k-1"}`,
		`{"plan_id":"plan_custom","payment_method_id":"pm_1","amount":4900}`,
		" {\n\t\"plan_id\" : \"p\" ,\r\n\"amount\":0 } ", `{}`, `{"amount":-0}`, `{"amount":-7}`,
		`{"plan_id":"a","plan_id":"b"}`, `{"Plan_ID":"p"}`, `{"plan_id":null}`, `{"amount":null}`, `{"amount":1.0}`,
		`{"amount":1e3}`, `{"amount":"1"}`, `{"amount":01}`, `{"amount":123456789012345678901}`, `{"plan_id":1}`,
		`{"plan_id":"a\"b"}`, `{"plan_id":"\u0070"}`, `{"plan_id":"é"}`, `{"plan_id":true}`, `{"extra":1}`,
		`{"plan_id":"p"}x`, `{"plan_id":"p"}{}`, `{"plan_id":"p",}`, `{"plan_id" "p"}`, `{"plan_id":"p"`, `{`,
	}
	for _, body := range bodies {
		for _, m := range append(jsontest.Mutations([]byte(body)), []byte(body)) {
			assertDecodesAsEncodingJSON(t, m)
		}
	}
}

func FuzzOrderRequestsDecodeAsEncodingJSONDoes(f *testing.F) {
	f.Add([]byte(`{"plan_id":"plan_custom","payment_method_id":"pm_1","amount":4900,"idempotency_key":"k"}`))
	f.Fuzz(func(t *testing.T, body []byte) { assertDecodesAsEncodingJSON(t, body) })
}

func assertDecodesAsEncodingJSON(t *testing.T, body []byte) {
	t.Helper()
	var want orderRequest
	wantErr := decodeStrict(body, &want)
	got := orderRequest{PlanID: new(string)} // a body not read leaves this as it is
	before := got
	switch read := got.decodePlain(body); {
	case !read && !reflect.DeepEqual(got, before):
		t.Errorf("decodePlain(%q) refused the body but changed the request to %+v", body, got)
	case read && wantErr != nil:
		t.Errorf("decodePlain(%q) read %+v; encoding/json: %v", body, got, wantErr)
	case read && !reflect.DeepEqual(got, want):
		t.Errorf("decodePlain(%q)\n got %+v\nwant %+v", body, got, want)
	}
}

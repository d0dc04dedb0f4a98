package main

import "testing"

func TestRouteNameIsThePatternNotTheURL(t *testing.T) {
	for _, tc := range []struct{ method, url, want string }{
		{"POST", "http://127.0.0.1:8080/v1/me/wallet/orders", "POST /v1/me/wallet/orders"},
		{"GET", "http://127.0.0.1:8080/v1/me/wallet/orders?limit=20", "GET /v1/me/wallet/orders"},
		{"POST", "http://h/v1/me/wallet/orders/ord_01JD2X/refund", "POST /v1/me/wallet/orders/{order_id}/refund"},
		{"POST", "http://h:18080/sandbox/setup/cs_sbx_4f2a9c", "POST /sandbox/setup/{session_id}"},
		{"DELETE", "/v1/me/wallet/subscriptions/sub_9", "DELETE /v1/me/wallet/subscriptions/{subscription_id}"},
		{"GET", "/v1/me/payment-methods?limit=1", "GET /v1/me/payment-methods"},
		{"GET", "/v1/plans", "GET /v1/plans"},
	} {
		if got := routeName(tc.method, tc.url); got != tc.want {
			t.Errorf("routeName(%s, %s) = %q, want %q", tc.method, tc.url, got, tc.want)
		}
	}
}

func TestExpectedStatuses(t *testing.T) {
	for _, tc := range []struct {
		status int
		extra  []int
		want   bool
	}{
		{200, nil, true}, {201, nil, true}, {303, nil, true},
		{409, nil, false}, {409, []int{409}, true}, {500, []int{409}, false}, {noAnswer, nil, false},
	} {
		if got := expected(tc.status, tc.extra); got != tc.want {
			t.Errorf("expected(%d, %v) = %v, want %v", tc.status, tc.extra, got, tc.want)
		}
	}
}

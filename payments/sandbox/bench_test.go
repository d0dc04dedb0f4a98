package sandbox

import (
	"context"
	"crypto/rand"
	"flag"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/robotlabor/billing/payments"
)

var chargeHistory = flag.Int("charges.history", 20000, "charges recorded before BenchmarkCharge measures")

// BenchmarkCharge measures the sandbox's charges as the reconciler makes
// them under load: 64 at a time, each under a fresh random idempotency
// key (the ledger's keys are derived from random order ids), after a
// history of -charges.history charges. It reports the process's CPU per
// charge (cpu-µs/op), which is what the service pays on a 2-core machine,
// beside the wall time.
//
//	go test ./payments/sandbox -run '^$' -bench Charge -benchtime 20000x
func BenchmarkCharge(b *testing.B) {
	e := newEnv(b)
	e.clock.Set(time.Now())
	cus := e.customer()
	card := e.saveCard(cus, "4242424242424242")
	charge := func() {
		_, err := e.sb.Charge(context.Background(), payments.Charge{
			CustomerID: cus, PaymentMethodID: card.ProviderPaymentMethodID, Amount: 4900,
			Currency: "usd", OrderID: "ord_" + rand.Text(), IdempotencyKey: rand.Text(),
		})
		if err != nil {
			b.Error(err)
		}
	}
	e.clock.mu.Lock()
	e.clock.real = true // charges are recorded as time passes
	e.clock.mu.Unlock()
	concurrently(*chargeHistory, charge)
	cpu := cpuTime()
	b.ResetTimer()
	concurrently(b.N, charge)
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu).Microseconds())/float64(b.N), "cpu-µs/op")
}

// concurrently calls f n times from 64 goroutines.
func concurrently(n int, f func()) {
	var wg sync.WaitGroup
	work := make(chan struct{}, n)
	for range n {
		work <- struct{}{}
	}
	close(work)
	for range 64 {
		wg.Go(func() {
			for range work {
				f()
			}
		})
	}
	wg.Wait()
}

// cpuTime is the CPU the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

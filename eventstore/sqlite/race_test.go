//go:build race

package sqlite_test

// raceDetector: the race detector slows each read some tenfold, so the
// tests that repeat a read many times repeat it fewer times under it.
const raceDetector = true

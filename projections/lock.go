package projections

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// fileLock is an exclusive flock on the file beside the database. The kernel
// drops it when the process dies, so a crashed server never leaves the read
// models locked.
type fileLock struct {
	f *os.File
}

// lockFile takes the lock at path without waiting; it returns an error
// wrapping ErrLocked when another process (or another open file in this one)
// holds it.
func lockFile(path string) (*fileLock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock read models: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by a running `billing serve` (or a rebuild); stop it first", ErrLocked, path)
		}
		return nil, fmt.Errorf("lock read models %s: %w", path, err)
	}
	return &fileLock{f: f}, nil
}

// release drops the lock. The file stays: removing it would let two
// processes lock two different files of the same name.
func (l *fileLock) release() error {
	if l == nil {
		return nil
	}
	return l.f.Close()
}

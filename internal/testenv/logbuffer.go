package testenv

import (
	"bytes"
	"sync"
)

// LogBuffer collects a manager's logs for tests to read while it writes.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p; safe for concurrent writers.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Since returns what was written after offset n, and the new offset.
func (b *LogBuffer) Since(n int) (string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()[n:], b.buf.Len()
}

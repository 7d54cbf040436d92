package bcs

// Len returns the number of lists held (expired ones may still count
// until the next sweep). Only the tests need it, so it is declared here.
func (l *ListCache) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

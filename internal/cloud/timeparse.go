package cloud

import "time"

// ParseTime reads s with the first of layouts that fits, for the adapters'
// timestamp parsers (each service has its own format; this is the rule
// they share). It returns nil rather than an error for anything it cannot
// read: one bad timestamp must not stop the rest of an answer from being
// observed. Empty strings, strings over 64 bytes and years outside
// 1971..9999 (placeholders, not times) give nil too. A layout without a
// zone is read as UTC; the result is always in UTC. s is used as is
// (callers trim it).
func ParseTime(s string, layouts ...string) *time.Time {
	if s == "" || len(s) > 64 {
		return nil
	}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			// Reject zero-ish and absurd values: they are placeholders,
			// not times.
			if t.Year() < 1971 || t.Year() > 9999 {
				return nil
			}
			t = t.UTC()
			return &t
		}
	}
	return nil
}

package cloud

import (
	"strings"
	"time"
)

// The time parsers below return nil rather than an error for anything they
// cannot read: one bad timestamp must not stop the rest of an answer from
// being observed. All results are in UTC.

// Epoch magnitude thresholds. A seconds value of 1e11 is the year 5138 and
// a nanoseconds value of 1e17 is 1973, so the ranges do not overlap for
// any date this operator will see.
const (
	epochMaxSeconds = 1e11
	epochMaxMillis  = 1e14
	epochMaxMicros  = 1e17
)

// ParseEpoch reads a BCS epoch integer whose unit is not documented: it is
// taken as seconds, milliseconds, microseconds or nanoseconds by magnitude
// (the seeds carry nanoseconds). Zero means unset and, like negative
// values, gives nil.
func ParseEpoch(v int64) *time.Time {
	var t time.Time
	switch {
	case v <= 0:
		return nil
	case v < epochMaxSeconds:
		t = time.Unix(v, 0)
	case v < epochMaxMillis:
		t = time.UnixMilli(v)
	case v < epochMaxMicros:
		t = time.UnixMicro(v)
	default:
		t = time.Unix(0, v)
	}
	t = t.UTC()
	return &t
}

// cceLayouts: CCE prints Go's time.Time.String() form; tolerate the
// variants a change of server code could produce.
var cceLayouts = []string{
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999 -0700",
	"2006-01-02 15:04:05.999999999Z07:00",
	time.RFC3339Nano,
}

// ParseCCETime reads a CCE timestamp such as
// "2023-11-25 06:32:34.923248 +0000 UTC". A Go monotonic-clock suffix
// (" m=+0.000001") is ignored; RFC 3339 is accepted as a fallback.
func ParseCCETime(s string) *time.Time {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " m="); i >= 0 {
		s = s[:i]
	}
	return parseLayouts(s, cceLayouts, time.UTC)
}

// ParseRFC3339 reads an RFC 3339 timestamp (AOS), with or without
// fractional seconds.
func ParseRFC3339(s string) *time.Time {
	return parseLayouts(strings.TrimSpace(s), []string{time.RFC3339Nano}, time.UTC)
}

var dwsLayouts = []string{
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	time.RFC3339Nano,
}

// ParseDWSTime reads a DWS timestamp such as "2025-05-19 09:06:18.0" or
// "2025-05-19 09:06:18". DWS gives no zone; it is taken as UTC
// (unverified). Empty (the API's null) gives nil.
func ParseDWSTime(s string) *time.Time {
	return parseLayouts(strings.TrimSpace(s), dwsLayouts, time.UTC)
}

func parseLayouts(s string, layouts []string, loc *time.Location) *time.Time {
	if s == "" || len(s) > 64 {
		return nil
	}
	for _, l := range layouts {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
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

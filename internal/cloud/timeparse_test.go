package cloud

import (
	"math"
	"testing"
	"time"
)

func ts(s string) *time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	t = t.UTC()
	return &t
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(*b) && a.Location() == time.UTC
}

func TestParseEpoch(t *testing.T) {
	tests := []struct {
		in   int64
		want *time.Time
	}{
		{0, nil},
		{-5, nil},
		{1618218591, ts("2021-04-12T09:09:51Z")}, // seconds
		{1618218591906, ts("2021-04-12T09:09:51.906Z")},           // milliseconds
		{1618218591906093, ts("2021-04-12T09:09:51.906093Z")},     // microseconds
		{1618219038464462600, ts("2021-04-12T09:17:18.4644626Z")}, // nanoseconds (seed 000)
		{1618218591951266000, ts("2021-04-12T09:09:51.951266Z")},  // seed 000
		{99999999999, ts("5138-11-16T09:46:39Z")},                 // largest "seconds"
		{100000000000, ts("1973-03-03T09:46:40Z")},                // smallest "milliseconds"
		{math.MaxInt64, ts("2262-04-11T23:47:16.854775807Z")},     // nanoseconds, no overflow
	}
	for _, tt := range tests {
		if got := ParseEpoch(tt.in); !sameTime(got, tt.want) {
			t.Errorf("ParseEpoch(%d) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseCCETime(t *testing.T) {
	tests := []struct {
		in   string
		want *time.Time
	}{
		{"2023-11-25 06:32:34.923248 +0000 UTC", ts("2023-11-25T06:32:34.923248Z")},
		{"2023-11-25 07:49:30.281911 +0000 UTC", ts("2023-11-25T07:49:30.281911Z")},
		{"2023-11-25 14:32:34 +0800 CST", ts("2023-11-25T06:32:34Z")},
		{"2023-11-25 06:32:34.923248 +0000 UTC m=+0.000123", ts("2023-11-25T06:32:34.923248Z")},
		{"2023-11-25 06:32:34.923248 +0000", ts("2023-11-25T06:32:34.923248Z")},
		{"2023-11-25T06:32:34Z", ts("2023-11-25T06:32:34Z")},
		{"", nil},
		{"yesterday", nil},
		{"0001-01-01 00:00:00 +0000 UTC", nil},
	}
	for _, tt := range tests {
		if got := ParseCCETime(tt.in); !sameTime(got, tt.want) {
			t.Errorf("ParseCCETime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseRFC3339(t *testing.T) {
	tests := []struct {
		in   string
		want *time.Time
	}{
		{"2016-12-27T20:12:32Z", ts("2016-12-27T20:12:32Z")},
		{"2016-12-27T20:12:32.5+08:00", ts("2016-12-27T12:12:32.5Z")},
		{"2016-12-27 20:12:32", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := ParseRFC3339(tt.in); !sameTime(got, tt.want) {
			t.Errorf("ParseRFC3339(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseDWSTime(t *testing.T) {
	tests := []struct {
		in   string
		want *time.Time
	}{
		{"2025-05-19 09:06:18.0", ts("2025-05-19T09:06:18Z")},
		{"2025-05-19 09:05:10.0", ts("2025-05-19T09:05:10Z")},
		{"2025-05-19 09:07:42", ts("2025-05-19T09:07:42Z")},
		{"2025-05-19 09:07:42.123", ts("2025-05-19T09:07:42.123Z")},
		{"2025-05-19T09:07:42", ts("2025-05-19T09:07:42Z")},
		{"2025-05-19T09:07:42+08:00", ts("2025-05-19T01:07:42Z")},
		{"", nil},
		{"null", nil},
		{"N/A", nil},
		{"2025-13-45 99:99:99", nil},
	}
	for _, tt := range tests {
		if got := ParseDWSTime(tt.in); !sameTime(got, tt.want) {
			t.Errorf("ParseDWSTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzParseTimes(f *testing.F) {
	f.Add(int64(1618219038464462600), "2023-11-25 06:32:34.923248 +0000 UTC")
	f.Add(int64(0), "2016-12-27T20:12:32Z")
	f.Add(int64(-1), "2025-05-19 09:06:18.0")
	f.Fuzz(func(t *testing.T, n int64, s string) {
		for _, got := range []*time.Time{ParseEpoch(n), ParseCCETime(s), ParseRFC3339(s), ParseDWSTime(s)} {
			if got != nil && got.Location() != time.UTC {
				t.Fatalf("non-UTC time %v", got)
			}
		}
	})
}

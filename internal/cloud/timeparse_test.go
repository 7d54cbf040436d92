package cloud

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	layouts := []string{"2006-01-02 15:04:05.999999999", time.RFC3339Nano}
	for _, tc := range []struct{ what, in, want string }{
		{"no zone: UTC", "2025-05-19 09:06:18.5", "2025-05-19 09:06:18.5 +0000 UTC"},
		{"second layout, converted to UTC", "2016-12-27T20:12:32.5+08:00", "2016-12-27 12:12:32.5 +0000 UTC"},
		{"placeholder year", "0001-01-01 00:00:00", "<nil>"},
		{"before 1971", "1970-12-31 23:59:59", "<nil>"},
		{"empty", "", "<nil>"},
		{"no layout fits", "yesterday", "<nil>"},
		{"not trimmed", " 2025-05-19 09:06:18", "<nil>"},
		{"over 64 bytes", "2025-05-19 09:06:18" + strings.Repeat("0", 50), "<nil>"},
	} {
		if got := fmt.Sprint(ParseTime(tc.in, layouts...)); got != tc.want {
			t.Errorf("%s: ParseTime(%q) = %s, want %s", tc.what, tc.in, got, tc.want)
		}
	}
	if got := ParseTime("2025-05-19 09:06:18"); got != nil {
		t.Errorf("no layouts: got %v, want nil", got)
	}
}

func FuzzParseTime(f *testing.F) {
	f.Add("2023-11-25 06:32:34.923248 +0000 UTC")
	f.Add("2016-12-27T20:12:32Z")
	f.Add("2025-05-19 09:06:18.0")
	f.Fuzz(func(t *testing.T, s string) {
		got := ParseTime(s, "2006-01-02 15:04:05.999999999 -0700 MST", "2006-01-02 15:04:05.999999999", time.RFC3339Nano)
		if got != nil && got.Location() != time.UTC {
			t.Fatalf("non-UTC time %v", got)
		}
	})
}

package cloud

import (
	"strings"
	"testing"
)

func TestValidPathSegment(t *testing.T) {
	for s, want := range map[string]bool{
		"abc": true, "SNAPSHOTTING_FAILED": true, "c:1.2-3": true,
		"": false, ".": false, "..": false, "a/b": false, `a\b`: false, "a?b": false, "a#b": false,
		"a%2Fb": false, "a b": false, "a\nb": false, "a\u00a0b": false, strings.Repeat("a", 257): false,
	} {
		if got := ValidPathSegment(s); got != want {
			t.Errorf("ValidPathSegment(%q) = %v, want %v", s, got, want)
		}
	}
	if err := RequireSegment("spec.clusterID", ""); KindOf(err) != KindPermanent || !strings.Contains(err.Error(), "spec.clusterID is required") {
		t.Errorf("got %v", err)
	}
	if err := RequireSegment("spec.stackID", "../x"); KindOf(err) != KindPermanent {
		t.Errorf("got %v", err)
	}
}

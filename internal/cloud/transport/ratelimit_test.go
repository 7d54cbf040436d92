package transport

import (
	"math"
	"reflect"
	"testing"
)

// TestRateLimitConfigSplit: N shards sharing an account each get 1/N of
// its rates and the floor of 1/N of its bursts (at least 1), defaults
// included, so their sum never exceeds what one instance would spend.
func TestRateLimitConfigSplit(t *testing.T) {
	tests := []struct {
		name   string
		in     RateLimitConfig
		shards int
		want   RateLimitConfig
	}{
		{name: "no flag: unchanged, zero fields still default later", shards: 1},
		{name: "zero shards: unchanged", in: RateLimitConfig{QPS: 7, Burst: 9}, shards: 0, want: RateLimitConfig{QPS: 7, Burst: 9}},
		{
			name:   "defaults split in three",
			shards: 3,
			want: RateLimitConfig{
				QPS: DefaultQPS / 3, Burst: DefaultBurst / 3, // 3.33/s, 5
				GlobalQPS: DefaultGlobalQPS / 3, GlobalBurst: DefaultGlobalBurst / 3, // 33.3/s, 66
				MinQPS: DefaultMinQPS / 3,
			},
		},
		{
			name:   "explicit flags split in two",
			in:     RateLimitConfig{QPS: 20, Burst: 30, GlobalQPS: 50, GlobalBurst: 101, MinQPS: 1, MaxWait: 7},
			shards: 2,
			want:   RateLimitConfig{QPS: 10, Burst: 15, GlobalQPS: 25, GlobalBurst: 50, MinQPS: 0.5, MaxWait: 7},
		},
		{
			name:   "bursts never below one",
			in:     RateLimitConfig{QPS: 1, Burst: 2, GlobalQPS: 1, GlobalBurst: 1, MinQPS: 0.5},
			shards: 4,
			want:   RateLimitConfig{QPS: 0.25, Burst: 1, GlobalQPS: 0.25, GlobalBurst: 1, MinQPS: 0.125},
		},
		{
			name:   "unlimited stays unlimited",
			in:     RateLimitConfig{QPS: math.Inf(1), Burst: 10, GlobalQPS: math.Inf(1), GlobalBurst: 10, MinQPS: 1},
			shards: 5,
			want:   RateLimitConfig{QPS: math.Inf(1), Burst: 2, GlobalQPS: math.Inf(1), GlobalBurst: 2, MinQPS: 0.2},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.in.Split(tc.shards)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%+v.Split(%d) = %+v, want %+v", tc.in, tc.shards, got, tc.want)
			}
			// Together the shards stay within the account's budget (a burst
			// below the shard count is raised to 1 each).
			account := tc.in.withDefaults().Burst
			if tc.shards > 1 && account >= tc.shards && got.Burst*tc.shards > account {
				t.Errorf("%d shards burst %d together, more than the account's %d", tc.shards, got.Burst*tc.shards, account)
			}
		})
	}
}

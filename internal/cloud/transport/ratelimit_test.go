package transport

import (
	"context"
	"math"
	"reflect"
	"testing"

	testingclock "k8s.io/utils/clock/testing"

	"github.com/cloudop/cloudop/internal/cloud"
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

// TestBucketsAreKeyedByKeyPair: a tenant who puts another team's access
// key (no secret) into its own Secret, with a secret key of its own, draws
// from a bucket of its own: draining it leaves the team's bucket full.
// Namespaces holding the very same key pair share one bucket, as they
// share one budget at the gateway.
func TestBucketsAreKeyedByKeyPair(t *testing.T) {
	target := func(ak, sk string) cloud.Target {
		return cloud.Target{Service: cloud.ServiceECS, Region: "cn-north-4", Credentials: cloud.Credentials{AccessKey: ak, SecretKey: sk}}
	}
	team := target("TEAMAK", "team-secret")
	for _, tc := range []struct {
		name             string
		spender          cloud.Target
		sharesTeamBucket bool
	}{
		{"another team's access key with a guessed secret", target("TEAMAK", "guess"), false},
		{"another team's access key with an empty secret", target("TEAMAK", ""), false},
		{"the team's key pair from another namespace", target("TEAMAK", "team-secret"), true},
		{"a different access key", target("OTHERAK", "team-secret"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := testingclock.NewFakeClock(fixedNow)
			lim := NewRateLimiter(RateLimitConfig{QPS: 1, Burst: 3, Now: clk.Now, MaxWait: -1})
			// The spender drains its bucket.
			drained := 0
			for lim.Wait(context.Background(), bucketKeyOf(tc.spender)) == nil {
				drained++
			}
			if drained != 3 {
				t.Fatalf("spender sent %d before being deferred, want its burst 3", drained)
			}
			err := lim.Wait(context.Background(), bucketKeyOf(team))
			if shared := cloud.IsRateLimited(err); shared != tc.sharesTeamBucket {
				t.Errorf("team deferred after the spender drained its bucket: %v, want %v (err %v)", shared, tc.sharesTeamBucket, err)
			}
		})
	}
}

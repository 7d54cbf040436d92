package readcache

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// countingReader serves one Secret (or NotFound) and counts reads.
type countingReader struct {
	reads   int
	missing bool
}

func (r *countingReader) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	r.reads++
	if r.missing {
		return apierrors.NewNotFound(schema.GroupResource{Resource: "secrets"}, key.Name)
	}
	obj.(*corev1.Secret).Name = key.Name
	return nil
}

func (r *countingReader) List(context.Context, client.ObjectList, ...client.ListOption) error {
	return nil
}

func TestCache(t *testing.T) {
	key := types.NamespacedName{Namespace: "ns", Name: "creds"}
	cases := []struct {
		name         string
		ttl          time.Duration
		missing      bool
		keepNotFound bool
		steps        []time.Duration // time of each Get after the start
		forget       int             // Forget before this Get (1-based; 0 never)
		wantReads    int
	}{
		{name: "reused within the TTL", ttl: 5 * time.Second, steps: []time.Duration{0, time.Second, 4 * time.Second}, wantReads: 1},
		{name: "read again after the TTL", ttl: 5 * time.Second, steps: []time.Duration{0, 5 * time.Second, 6 * time.Second}, wantReads: 2},
		{name: "no TTL, no caching", steps: []time.Duration{0, 0, 0}, wantReads: 3},
		{name: "failures are not kept", ttl: time.Minute, missing: true, steps: []time.Duration{0, time.Second}, wantReads: 2},
		{name: "not found kept when asked", ttl: time.Minute, missing: true, keepNotFound: true, steps: []time.Duration{0, time.Second}, wantReads: 1},
		{name: "forget forces a read", ttl: time.Minute, steps: []time.Duration{0, time.Second, 2 * time.Second}, forget: 3, wantReads: 2},
	}
	start := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reader := &countingReader{missing: tc.missing}
			now := start
			cache := &Cache[corev1.Secret, *corev1.Secret]{Reader: reader, TTL: tc.ttl, KeepNotFound: tc.keepNotFound, Now: func() time.Time { return now }}
			for i, at := range tc.steps {
				now = start.Add(at)
				if tc.forget == i+1 {
					cache.Forget(key)
				}
				s, err := cache.Get(context.Background(), key)
				if (err != nil) != tc.missing {
					t.Fatalf("Get %d: %v, %v", i, s, err)
				}
				if err != nil && !apierrors.IsNotFound(err) {
					t.Fatalf("Get %d: %v, want NotFound", i, err)
				}
				if err == nil && s.Name != "creds" {
					t.Fatalf("Get %d: %v, %v", i, s, err)
				}
			}
			if reader.reads != tc.wantReads {
				t.Errorf("%d reads, want %d", reader.reads, tc.wantReads)
			}
		})
	}
}

package manager

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// ShardLabel is the label that assigns a CloudOperation to a shard, like
// Flux's sharding.fluxcd.io/key: a shard instance runs with
// --watch-label-selector=sharding.cloudop.dev/key=<shard> and sees only the
// objects carrying that value; the default instance of a sharded install
// runs with --watch-label-selector='!sharding.cloudop.dev/key' and takes
// the objects without the label. Changing the label moves the object to
// another shard (docs/scaling.md).
const ShardLabel = "sharding.cloudop.dev/key"

// DefaultLeaderElectionID is the lease of an instance that watches every
// CloudOperation (no --watch-label-selector), as before sharding existed.
const DefaultLeaderElectionID = "cloudop-manager.ops.cloudop.dev"

// parseWatchSelector parses --watch-label-selector; "" selects everything
// (nil).
func parseWatchSelector(s string) (labels.Selector, error) {
	if s == "" {
		return nil, nil
	}
	sel, err := labels.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("watch label selector %q: %w", s, err)
	}
	return sel, nil
}

// LeaderElectionID returns the lease name of the instances watching the
// CloudOperations that selector selects: DefaultLeaderElectionID without a
// selector, otherwise "cloudop-manager-<digest>.ops.cloudop.dev", the
// digest being that of the parsed (normalized) selector. Every replica of
// one shard derives the same name and no two shards share one, so each
// shard elects its own leader without per-shard configuration.
func LeaderElectionID(selector string) (string, error) {
	sel, err := parseWatchSelector(selector)
	if err != nil {
		return DefaultLeaderElectionID, err
	}
	return leaseFor(sel), nil
}

// leaseFor is LeaderElectionID for an already parsed selector.
func leaseFor(sel labels.Selector) string {
	if sel == nil || sel.Empty() {
		return DefaultLeaderElectionID
	}
	sum := sha256.Sum256([]byte(sel.String()))
	return "cloudop-manager-" + hex.EncodeToString(sum[:4]) + ".ops.cloudop.dev"
}

// cacheOptions returns the manager's cache options: managed fields
// stripped; CloudOperations limited to sel when it is not nil, so an
// instance never lists, watches or stores another shard's objects; and
// every cached type limited to namespaces when there are any, so the
// manager lists and watches only there and needs no cluster-wide
// permissions. An object relabelled out of sel disappears from the cache
// (a delete), one relabelled into it appears (an add).
func cacheOptions(sel labels.Selector, namespaces []string) cache.Options {
	// Managed fields are never read; dropping them saves a large share of
	// the cache's memory.
	o := cache.Options{DefaultTransform: cache.TransformStripManagedFields()}
	if sel != nil && !sel.Empty() {
		// A source is served by the instance its labels select, and its
		// CloudOperations inherit its sharding label (so the same one).
		o.ByObject = map[client.Object]cache.ByObject{&opsv1.CloudOperation{}: {Label: sel}, &opsv1.CloudOperationSource{}: {Label: sel}}
	}
	if len(namespaces) > 0 {
		o.DefaultNamespaces = make(map[string]cache.Config, len(namespaces))
		for _, ns := range namespaces {
			o.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	return o
}

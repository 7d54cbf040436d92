package manager

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/testenv"
)

// TestLeaderElectionID: no selector keeps today's lease; each selector has
// its own valid lease name, the same however the selector is spelled.
func TestLeaderElectionID(t *testing.T) {
	id := func(sel string) string {
		t.Helper()
		got, err := LeaderElectionID(sel)
		if err != nil {
			t.Fatalf("LeaderElectionID(%q): %v", sel, err)
		}
		if errs := validation.IsDNS1123Subdomain(got); len(errs) > 0 {
			t.Errorf("LeaderElectionID(%q) = %q, not a valid lease name: %v", sel, got, errs)
		}
		return got
	}
	if got := id(""); got != DefaultLeaderElectionID {
		t.Errorf("no selector: lease %q, want today's %q", got, DefaultLeaderElectionID)
	}
	seen := map[string]string{}
	for _, sel := range []string{"!" + ShardLabel, ShardLabel + "=shard1", ShardLabel + "=shard2", ShardLabel + " in (shard1,shard2)", "team=a"} {
		got := id(sel)
		if prev, dup := seen[got]; dup || got == DefaultLeaderElectionID {
			t.Errorf("selectors %q and %q share lease %q", sel, prev, got)
		}
		seen[got] = sel
		if !strings.HasPrefix(got, "cloudop-manager-") || !strings.HasSuffix(got, ".ops.cloudop.dev") {
			t.Errorf("lease %q for %q: want cloudop-manager-<digest>.ops.cloudop.dev", got, sel)
		}
	}
	if a, b := id(ShardLabel+"=shard1,team=a"), id(" team = a , "+ShardLabel+" = shard1"); a != b {
		t.Errorf("one selector spelled two ways gets two leases: %q and %q", a, b)
	}
	if _, err := LeaderElectionID("a=(b"); err == nil {
		t.Error("an invalid selector was accepted")
	}
}

// TestCacheOptions: without a selector the cache holds every
// CloudOperation (single-instance installs are unchanged); with one, only
// CloudOperations and CloudOperationSources are filtered.
func TestCacheOptions(t *testing.T) {
	if o := cacheOptions(nil, nil); o.ByObject != nil || o.DefaultTransform == nil {
		t.Errorf("no selector: %+v, want no per-object filter and the managed-fields transform", o)
	}
	if o := cacheOptions(labels.Everything(), nil); o.ByObject != nil {
		t.Errorf("empty selector: per-object filter %v", o.ByObject)
	}
	sel := labels.SelectorFromSet(labels.Set{ShardLabel: "shard1"})
	o := cacheOptions(sel, nil)
	if len(o.ByObject) != 2 || o.DefaultTransform == nil {
		t.Fatalf("selector: %+v, want a filter on CloudOperations and one on sources, and the transform", o)
	}
	for obj, by := range o.ByObject {
		switch obj.(type) {
		case *opsv1.CloudOperation, *opsv1.CloudOperationSource:
		default:
			t.Errorf("filter on %T, want CloudOperations and CloudOperationSources only", obj)
		}
		if by.Label.String() != sel.String() {
			t.Errorf("filter on %T by %v, want %v", obj, by.Label, sel)
		}
	}
}

// TestNewRejectsBadShardFlags: a selector that does not parse or a
// negative budget split stops the manager before it starts.
func TestNewRejectsBadShardFlags(t *testing.T) {
	cfg := &rest.Config{Host: "https://127.0.0.1:1"}
	if _, err := New(cfg, Options{WatchLabelSelector: "a=(b"}); err == nil || !strings.Contains(err.Error(), "watch label selector") {
		t.Errorf("invalid selector: %v", err)
	}
	if _, err := New(cfg, Options{CloudBudgetShards: -1}); err == nil {
		t.Error("negative --cloud-budget-shards accepted")
	}
}

// TestShardingOverlay builds config/sharding with kubectl kustomize and
// checks its Deployments: one default instance (the unlabelled objects)
// and shards with distinct selectors, hence distinct leases, each
// splitting the cloud budget by the number of Deployments.
func TestShardingOverlay(t *testing.T) {
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Skipf("no kubectl: %v", err)
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(assets, "kubectl"), "kustomize", filepath.Join(root, "config", "sharding")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize config/sharding: %v", err)
	}
	type deployment struct {
		name, selector, shards string
	}
	var deps []deployment
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var d appsv1.Deployment
		if err := dec.Decode(&d); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if d.Kind != "Deployment" {
			continue
		}
		dep := deployment{name: d.Name, selector: "<none>"}
		for _, arg := range d.Spec.Template.Spec.Containers[0].Args {
			if v, ok := strings.CutPrefix(arg, "--watch-label-selector="); ok {
				dep.selector = v
			}
			if v, ok := strings.CutPrefix(arg, "--cloud-budget-shards="); ok {
				dep.shards = v
			}
		}
		deps = append(deps, dep)
	}
	if len(deps) != 3 {
		t.Fatalf("%d Deployments, want the default and two shards: %+v", len(deps), deps)
	}
	leases := map[string]string{}
	for _, d := range deps {
		if d.shards != strconv.Itoa(len(deps)) {
			t.Errorf("%s: --cloud-budget-shards=%s, want %d (one per Deployment)", d.name, d.shards, len(deps))
		}
		lease, err := LeaderElectionID(d.selector)
		if err != nil || d.selector == "<none>" {
			t.Errorf("%s: selector %s: %v", d.name, d.selector, err)
		}
		if other, dup := leases[lease]; dup {
			t.Errorf("%s and %s share lease %s", d.name, other, lease)
		}
		leases[lease] = d.name
	}
	if deps[0].name != "cloudop-manager" || deps[0].selector != "!"+ShardLabel {
		t.Errorf("default instance %+v, want cloudop-manager with !%s", deps[0], ShardLabel)
	}
}

package install

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
)

// prevCommit is the release TestUpgrade upgrades from, built from this
// commit inside the test. There are no release tags yet: it is the last
// commit that passed CI. To move it forward, once a release is tagged set
// it to `git rev-parse vX.Y.Z^{commit}` of the release before the one
// being made (the full hash: CI's clone has every commit, tags or not),
// add the pair to the upgrade matrix in docs/install.md, and replace
// newSchemaSource with an object only the newer schema accepts.
const prevCommit = "58cb101ca9ea2ba89bf66b240c3b6787b17b70ec"

// prevVersion is the version the previous release is built with: its
// images load under this tag, beside the current ones (Version).
const prevVersion = "v0.0.1-prev"

// The operations cloudsim plays for TestUpgrade: several steps of some
// seconds each, so that they are midway when the manager is upgraded, and
// one that fails after the upgrade. Every step has its own name (the
// events name steps).
const (
	upgECS      = "upg00000000000000000000000000001"
	upgVPC      = "upg00000000000000000000000000002"
	upgCCE      = "upg-cce-0000-0000-0000-000000000003"
	upgCCEClust = "upg-cluster-3"
	upgBCS      = "BCSSVC01-99-3000000000000000004"
	upgChain    = "upg-chain-4"
	// upgLate is created after the rollback: long over by then, the old
	// manager reads it once.
	upgLate = "upg00000000000000000000000000005"
	// upgSourceChain is a blockchain with no operations, for a source
	// that lists nothing.
	upgSourceChain = "upg-chain-empty"
)

const upgradeScenario = `settings:
  speed: 1
  stepDuration: 8s
accounts:
  - accessKey: ` + accessKey + `
    secretKey: ` + secretKey + `
    projectIDs: [` + project + `]
operations:
  - service: ECS
    id: ` + upgECS + `
    projectID: ` + project + `
    params: {jobType: createServer}
    steps: [{name: createVolume}, {name: createPort}, {name: createServer}, {name: attachVolume}, {name: bindPublicip}, {name: startServer}, {name: tagServer}]
  - service: VPC
    id: ` + upgVPC + `
    projectID: ` + project + `
    scenario: fail
    params: {step: 6, jobType: createBatchPublicip, errorCode: VPC.9999, message: "Insufficient EIP quota"}
    steps: [{name: checkQuota}, {name: reserveAddress}, {name: createPublicip}, {name: bindBandwidth}, {name: bindPort}, {name: publishRoute}]
  - service: CCE
    id: ` + upgCCE + `
    projectID: ` + project + `
    clusterID: ` + upgCCEClust + `
    params: {targetVersion: v1.33.2-r0}
    steps:
      - {name: PreCheck, duration: 10s}
      - {name: Snapshot, duration: 10s}
      - name: Cluster
        subSteps: [{name: Master, duration: 12s}, {name: Nodes, duration: 12s}]
      - {name: PostCheck, duration: 10s}
  - service: BCS
    id: ` + upgBCS + `
    projectID: ` + project + `
    blockchainID: ` + upgChain + `
    steps:
      - name: Preparation
        subSteps: [{name: Generate basic configurations}, {name: Create EIP}]
      - name: Deploy Blockchain
        subSteps: [{name: Deploy orderer nodes}, {name: Deploy peer nodes}]
      - name: Verify
        subSteps: [{name: Check nodes}, {name: Check channels}]
  - {service: ECS, id: ` + upgLate + `, projectID: ` + project + `, steps: [{name: createVolume, duration: 2s}]}
`

// upgradeOps are the CloudOperations TestUpgrade upgrades under, with the
// phase each ends in.
var upgradeOps = []struct {
	name  string
	spec  opsv1.CloudOperationSpec
	final opsv1.Phase
}{
	{"ecs-server", opsv1.CloudOperationSpec{Service: opsv1.ServiceECS, OperationID: upgECS}, opsv1.PhaseSucceeded},
	{"vpc-eip", opsv1.CloudOperationSpec{Service: opsv1.ServiceVPC, OperationID: upgVPC}, opsv1.PhaseFailed},
	{"cce-upgrade", opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE, OperationID: upgCCE, ClusterID: upgCCEClust}, opsv1.PhaseSucceeded},
	{"bcs-deploy", opsv1.CloudOperationSpec{Service: opsv1.ServiceBCS, OperationID: upgBCS, BlockchainID: upgChain}, opsv1.PhaseSucceeded},
}

// upgradeValues are the values of both releases: one replica (two
// containers on the host network would share ports), every step change
// announced, cloudsim for every service the operations use.
func upgradeValues(simURL string, services ...string) map[string]any {
	endpoints := map[string]any{}
	for _, s := range services {
		endpoints[s] = simURL
	}
	return map[string]any{
		"replicaCount": 1,
		"cloud":        map[string]any{"serviceEndpoints": endpoints},
		"controller":   map[string]any{"stepEvents": "all"},
	}
}

// TestUpgrade builds the previous release (prevCommit) from git, installs
// its chart and runs its manager image, starts operations under it and
// upgrades with `helm upgrade` to the current bundle while they run. It
// shows the CRDs upgraded in place (same objects, the new schema, the
// stored objects readable), every status kept through the handover, each
// transition announced by exactly one Event (none lost, none twice) and
// every operation reaching its final phase. Then `helm rollback` to
// revision 1 brings back the old Deployment and the old CRD schemas, the
// stored objects still read (fields only the new schema knows are not
// served), and the old manager runs again; upgrading once more shows that
// what it wrote lost those fields for good.
func TestUpgrade(t *testing.T) {
	requireDocker(t)
	start := time.Now()
	ctx := context.Background()
	prevBundle := buildPrevRelease(t)
	built := time.Now()
	t.Logf("previous release %s built from %.12s in %s", prevVersion, prevCommit, built.Sub(start).Round(time.Second))
	prevManager := loadPrevManagerImage(t, prevBundle)

	const ns = "upgrade"
	createNamespace(t, ns)
	sim := startSimulator(t, upgradeScenario)
	oldServices := []string{"ECS", "VPC", "CCE", "BCS"}

	// Revision 1: the previous chart and manager.
	helmRelease(t, "install", filepath.Join(prevBundle, "cloudop-"+strings.TrimPrefix(prevVersion, "v")+".tgz"),
		upgradeValues(sim.url, oldServices...), "--create-namespace")
	manifest1 := mustRun(t, helm, "get", "manifest", release, "--namespace", releaseNamespace)
	t.Cleanup(func() {
		// The CRDs are kept (crds.keep), at whichever schema the test
		// left them: the next install adopts and updates them.
		cmdOutput(context.Background(), helm, "uninstall", release, "--namespace", releaseNamespace, "--wait", "--timeout", "60s")
	})
	crdsBefore := readCRDs(t)
	oldManager, _ := startManagerImage(t, manifest1, prevManager, "cloudop-e2e-manager-prev")

	// A source the old schema holds, and one only the new schema accepts.
	oldSource := &opsv1.CloudOperationSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chain"},
		Spec: opsv1.CloudOperationSourceSpec{
			Service: opsv1.SourceService("BCS"), Region: "cn-north-4", ProjectID: project, BlockchainID: upgSourceChain,
			CredentialsSecretRef: opsv1.SecretReference{Name: "huaweicloud-credentials"},
		},
	}
	if err := k8sClient.Create(ctx, oldSource); err != nil {
		t.Fatalf("creating a BCS CloudOperationSource under the previous schema: %v", err)
	}
	if err := k8sClient.Create(ctx, newSchemaSource(ns), client.DryRunAll, client.FieldValidation("Strict")); err == nil {
		t.Fatalf("the previous CRD accepts a CloudOperationSource with fields only the new schema has: is prevCommit still older than them?")
	} else {
		t.Logf("the previous schema refuses the new source, as it should: %v", err)
	}

	for _, op := range upgradeOps {
		createOperation(t, ns, op.name, op.spec)
	}
	// Midway: every operation running with a step done, none finished.
	eventually(t, 90*time.Second, "every operation is midway under the previous manager", func() (bool, string) {
		var waiting []string
		for _, op := range upgradeOps {
			st := getOperation(t, ns, op.name).Status
			if done := stepsIn(st.Steps, opsv1.PhaseSucceeded); st.Phase != opsv1.PhaseRunning || done == 0 {
				waiting = append(waiting, fmt.Sprintf("%s: %s, %d steps done", op.name, st.Phase, done))
			}
		}
		return len(waiting) == 0, strings.Join(waiting, "; ")
	})

	// Revision 2: helm upgrade to the current chart, then the manager pod
	// is replaced. The old one stops before the new one starts (two
	// containers on the host network cannot share the probe and metrics
	// ports); the lease it gives back on SIGTERM lets the new one lead at
	// once.
	upgradeStart := time.Now()
	// As docs/install.md says: the values of revision 1 on the new chart's
	// defaults (--reuse-values would keep the old chart's defaults, which
	// lack the values added since), plus the new service's endpoint.
	helmRelease(t, "upgrade", chartPath(), map[string]any{"cloud": map[string]any{"serviceEndpoints": map[string]any{"CTS": sim.url}}},
		"--reset-then-reuse-values")
	manifest2 := mustRun(t, helm, "get", "manifest", release, "--namespace", releaseNamespace)
	args := renderedDeployment(t, manifest2, managerName).Spec.Template.Spec.Containers[0].Args
	for _, want := range []string{"--step-events=all", "--service-endpoint=ECS=" + sim.url, "--service-endpoint=CTS=" + sim.url} {
		if !slices.Contains(args, want) {
			t.Fatalf("the upgraded Deployment's args %q lack %s: the release's values were not kept", args, want)
		}
	}
	oldManager.stop(t)
	handover := time.Now()
	atHandover := map[string]opsv1.CloudOperationStatus{}
	for _, op := range upgradeOps {
		st := getOperation(t, ns, op.name).Status
		if st.Phase != opsv1.PhaseRunning {
			t.Fatalf("%s is %s when the previous manager stopped: the operations must still run during the upgrade (lengthen their steps)", op.name, st.Phase)
		}
		atHandover[op.name] = *st.DeepCopy()
	}
	newManager, _ := startManager(t, manifest2)
	t.Logf("helm upgrade and manager handover took %s", time.Since(upgradeStart).Round(100*time.Millisecond))

	crdsAfter := readCRDs(t)
	t.Run("CRDs upgraded in place", func(t *testing.T) {
		want := chartCRDPaths(t)
		for name, before := range crdsBefore {
			after, ok := crdsAfter[name]
			switch {
			case !ok:
				t.Fatalf("CRD %s is gone after the upgrade", name)
			case after.uid != before.uid:
				t.Errorf("CRD %s was replaced (uid %s → %s), not updated in place", name, before.uid, after.uid)
			case !slices.Equal(after.storedVersions, before.storedVersions):
				t.Errorf("CRD %s stored versions %v → %v", name, before.storedVersions, after.storedVersions)
			}
			if added := subtract(after.paths, before.paths); len(added) > 0 {
				t.Logf("CRD %s gained %s", name, strings.Join(added, ", "))
			}
			if missing := subtract(want[name], after.paths); len(missing) > 0 {
				t.Errorf("CRD %s after the upgrade lacks %s of the current chart's schema", name, strings.Join(missing, ", "))
			}
		}
		// The new schema admits what the old refused...
		if err := k8sClient.Create(ctx, newSchemaSource(ns), client.FieldValidation("Strict")); err != nil {
			t.Errorf("the upgraded CRD refuses a CloudOperationSource of the new schema: %v", err)
		}
		// ...and serves the objects stored under the old one, which the
		// new manager now updates with fields only the new schema has.
		eventually(t, time.Minute, "the new manager writes status.resource of the source created under the old schema", func() (bool, string) {
			got := &opsv1.CloudOperationSource{}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(oldSource), got); err != nil {
				return false, err.Error()
			}
			return got.Status.Resource == "blockchain/"+upgSourceChain, fmt.Sprintf("status %+v", got.Status)
		})
	})

	for _, op := range upgradeOps {
		waitForPhase(t, ns, op.name, op.final, 2*time.Minute)
	}
	t.Logf("every operation ended %s after the handover", time.Since(handover).Round(time.Second))
	final := map[string]*opsv1.CloudOperation{}
	for _, op := range upgradeOps {
		final[op.name] = getOperation(t, ns, op.name)
	}

	t.Run("statuses kept through the handover", func(t *testing.T) {
		for _, op := range upgradeOps {
			checkStatusKept(t, op.name, atHandover[op.name], final[op.name].Status)
		}
	})
	t.Run("each transition announced once", func(t *testing.T) {
		for _, op := range upgradeOps {
			checkTransitionEvents(t, final[op.name], handover)
		}
	})

	// Revision 3: helm rollback to revision 1.
	mustRun(t, helm, "rollback", release, "1", "--namespace", releaseNamespace)
	manifest3 := mustRun(t, helm, "get", "manifest", release, "--namespace", releaseNamespace)
	t.Run("rollback restores revision 1", func(t *testing.T) {
		var history []struct {
			Revision    int    `json:"revision"`
			Status      string `json:"status"`
			Chart       string `json:"chart"`
			Description string `json:"description"`
		}
		if err := json.Unmarshal([]byte(mustRun(t, helm, "history", release, "--namespace", releaseNamespace, "--output", "json")), &history); err != nil {
			t.Fatal(err)
		}
		t.Logf("helm history: %+v", history)
		if n := len(history); n != 3 || history[2].Revision != 3 || history[2].Status != "deployed" || !strings.Contains(history[2].Description, "Rollback to 1") {
			t.Errorf("after helm rollback the history is %+v, want revision 3 deployed, \"Rollback to 1\"", history)
		}
		image := func(m string) string {
			return renderedDeployment(t, m, managerName).Spec.Template.Spec.Containers[0].Image
		}
		if image(manifest3) != image(manifest1) || image(manifest3) == image(manifest2) {
			t.Errorf("after rollback the Deployment runs %s; revision 1 ran %s, revision 2 %s", image(manifest3), image(manifest1), image(manifest2))
		}
		// The CRDs are templates of the release, so the rollback puts
		// revision 1's schemas back, in place.
		back := readCRDs(t)
		for name, before := range crdsBefore {
			got := back[name]
			if got.uid != before.uid {
				t.Errorf("CRD %s was replaced by the rollback", name)
			}
			if extra, missing := subtract(got.paths, before.paths), subtract(before.paths, got.paths); len(extra)+len(missing) > 0 {
				t.Errorf("CRD %s after rollback differs from revision 1's schema: has %v more, %v fewer", name, extra, missing)
			}
		}
		// The stored objects still read under the old schema: the
		// operations with their statuses; the sources without the fields
		// only the new schema has, which the API server prunes when it
		// reads them (they stay in etcd until the object is written).
		for _, op := range upgradeOps {
			got := getOperation(t, ns, op.name)
			if got.Status.Phase != op.final || !reflect.DeepEqual(got.Status.Steps, final[op.name].Status.Steps) {
				t.Errorf("after rollback %s reads %s with steps %+v, want it as it ended", op.name, got.Status.Phase, got.Status.Steps)
			}
		}
		src := &opsv1.CloudOperationSource{}
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(oldSource), src); err != nil {
			t.Fatalf("the source created under the old schema does not read after rollback: %v", err)
		}
		if src.Spec.BlockchainID != upgSourceChain || src.Status.Resource != "" {
			t.Errorf("after rollback the old source reads blockchainID %q, status.resource %q; want %q and nothing (a field of the new schema only)", src.Spec.BlockchainID, src.Status.Resource, upgSourceChain)
		}
		cts := newSchemaSource(ns)
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(cts), cts); err != nil {
			t.Fatalf("the source created under the new schema does not read after rollback: %v", err)
		}
		if string(cts.Spec.Service) != "CTS" || len(cts.Spec.Services) > 0 || len(cts.Spec.TraceNames) > 0 {
			t.Errorf("after rollback the CTS source reads service %q, services %v, traceNames %v; want CTS and neither list (the old schema has neither field)", cts.Spec.Service, cts.Spec.Services, cts.Spec.TraceNames)
		}
	})

	// The old manager runs again from the rolled-back Deployment: it tracks
	// a new operation, and announces nothing more about the finished ones.
	newManager.stop(t)
	finishedEvents := func() int {
		list, err := kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.kind=CloudOperation,involvedObject.name!=after-rollback"})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}
	before := finishedEvents()
	oldManager, _ = startManagerImage(t, manifest3, prevManager, "cloudop-e2e-manager-prev-again")
	createOperation(t, ns, "after-rollback", opsv1.CloudOperationSpec{Service: opsv1.ServiceECS, OperationID: upgLate})
	waitForPhase(t, ns, "after-rollback", opsv1.PhaseSucceeded, time.Minute)
	if n := finishedEvents() - before; n != 0 {
		t.Errorf("the old manager, back after the rollback, recorded %d more events about the operations that had ended", n)
	}
	// A CTS source is beyond the old manager: it says so, and goes no
	// further (docs/install.md: delete such sources before rolling back).
	eventually(t, 30*time.Second, "the old manager reports the CTS source not Ready", func() (bool, string) {
		src := newSchemaSource(ns)
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(src), src); err != nil {
			return false, err.Error()
		}
		c := findCondition(src.Status.Conditions, opsv1.ConditionReady)
		if c != nil && c.Status == metav1.ConditionFalse && c.ObservedGeneration == src.Generation {
			t.Logf("after rollback the old manager reports the CTS source: %s: %s", c.Reason, c.Message)
			return true, ""
		}
		return false, fmt.Sprintf("conditions %+v", src.Status.Conditions)
	})

	oldManager.stop(t)

	// Revision 4: forward again, no manager running. An object written
	// under the old schema (here the old manager's status patch of the
	// CTS source) was stored as the API server served it, without the
	// fields only the new schema has: they do not come back.
	helmRelease(t, "upgrade", chartPath(), map[string]any{}, "--reset-then-reuse-values")
	manifest4 := mustRun(t, helm, "get", "manifest", release, "--namespace", releaseNamespace)
	t.Run("forward again after the rollback", func(t *testing.T) {
		cts := newSchemaSource(ns)
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(cts), cts); err != nil {
			t.Fatal(err)
		}
		t.Logf("the CTS source the old manager wrote reads services %v, traceNames %v", cts.Spec.Services, cts.Spec.TraceNames)
		if len(cts.Spec.Services) > 0 {
			t.Errorf("the CTS source kept spec.services %v through the old manager's status write", cts.Spec.Services)
		}
		if st := getOperation(t, ns, "ecs-server").Status; !reflect.DeepEqual(st.Steps, final["ecs-server"].Status.Steps) {
			t.Errorf("ecs-server's steps changed through rollback and upgrade: %+v", st.Steps)
		}
	})

	// Leave nothing in the kept CRDs for the other tests' managers.
	for _, obj := range []client.Object{&opsv1.CloudOperation{}, &opsv1.CloudOperationSource{}} {
		if err := k8sClient.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil {
			t.Error(err)
		}
	}
	uninstall(t)
	noLeftovers(t, manifest4, true)
	t.Logf("TestUpgrade took %s, %s of it after the previous release was built", time.Since(start).Round(time.Second), time.Since(built).Round(time.Second))
}

// newSchemaSource is a CloudOperationSource only the current schema
// accepts: service CTS, spec.services and spec.traceNames are newer than
// prevCommit. Its trace name matches no call, so it mirrors nothing.
func newSchemaSource(ns string) *opsv1.CloudOperationSource {
	return &opsv1.CloudOperationSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "traces"},
		Spec: opsv1.CloudOperationSourceSpec{
			Service: opsv1.SourceService("CTS"), Region: "cn-north-4", ProjectID: project,
			Services:             []opsv1.Service{opsv1.ServiceECS},
			TraceNames:           []string{"noSuchCall"},
			CredentialsSecretRef: opsv1.SecretReference{Name: "huaweicloud-credentials"},
		},
	}
}

// buildPrevRelease builds prevCommit's release bundle with that tree's own
// programs (hack/imagebuild, hack/release and their flags as of then), one
// platform, as buildRelease builds the current one. The commit is read
// with git archive, so the checkout is not touched. The Go build cache
// keeps a second run to seconds: the binaries are built with -trimpath.
func buildPrevRelease(t *testing.T) string {
	t.Helper()
	if err := exec.Command("git", "-C", repoRoot, "cat-file", "-e", prevCommit+"^{commit}").Run(); err != nil {
		msg := fmt.Sprintf("the previous release's commit %s is not in this clone (a shallow clone?): `git fetch --unshallow` or fetch that commit", prevCommit)
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	work := t.TempDir()
	src, layouts, out := filepath.Join(work, "src"), filepath.Join(work, "layouts"), filepath.Join(work, "bundle")
	tarball := filepath.Join(work, "src.tar")
	kubectlAbs, helmAbs := mustAbs(kubectl), mustAbs(helm)
	steps := []struct {
		dir  string
		args []string
	}{
		{repoRoot, []string{"git", "archive", "--format=tar", "--output", tarball, prevCommit}},
		{work, []string{"mkdir", src}},
		{work, []string{"tar", "-xf", tarball, "-C", src}},
		{src, []string{"go", "run", "./hack/imagebuild", "-out", layouts, "-platforms", "linux/amd64", "-version", prevVersion, "-commit", prevCommit[:7], "-source-date-epoch", "0"}},
		{src, []string{"go", "run", "./hack/release", "-version", prevVersion, "-layouts", layouts, "-out", out, "-root", ".", "-kubectl", kubectlAbs, "-helm", helmAbs}},
	}
	for _, s := range steps {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, s.args[0], s.args[1:]...)
		cmd.Dir = s.dir
		// The old tree is its own module: no workspace of the checkout.
		cmd.Env = append(os.Environ(), "GOWORK=off")
		output, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("building the previous release: %s: %v\n%s", strings.Join(s.args, " "), err, output)
		}
	}
	return out
}

// loadPrevManagerImage loads the previous bundle's linux/amd64 manager
// archive (tag prevVersion) and returns its reference.
func loadPrevManagerImage(t *testing.T, prevBundle string) string {
	t.Helper()
	archive := filepath.Join(prevBundle, "cloudop-manager_"+prevVersion+"_linux-amd64.docker.tar")
	if out, err := exec.Command("docker", "load", "--input", archive).CombinedOutput(); err != nil {
		t.Fatalf("docker load %s: %v\n%s", archive, err, out)
	}
	ref := "ghcr.io/cloudop/cloudop-manager:" + prevVersion
	t.Cleanup(func() { exec.Command("docker", "rmi", "--force", ref).Run() })
	return ref
}

// createOperation creates a CloudOperation of spec in the test's region,
// project and account, polled every 5 s (the least the CRD allows).
func createOperation(t *testing.T, namespace, name string, spec opsv1.CloudOperationSpec) {
	t.Helper()
	spec.Region, spec.ProjectID = "cn-north-4", project
	spec.CredentialsSecretRef = opsv1.SecretReference{Name: "huaweicloud-credentials"}
	spec.PollInterval = &metav1.Duration{Duration: 5 * time.Second}
	op := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}, Spec: spec}
	if err := k8sClient.Create(context.Background(), op); err != nil {
		t.Fatalf("creating CloudOperation %s/%s: %v", namespace, name, err)
	}
}

func stepsIn(steps []opsv1.OperationStep, phase opsv1.Phase) int {
	n := 0
	for _, s := range steps {
		if s.Phase == phase {
			n++
		}
	}
	return n
}

// crdState is what the test compares of a CRD across upgrade and rollback.
type crdState struct {
	uid            string
	storedVersions []string
	// paths are the schema's field paths, e.g. spec.clusterID,
	// spec.services[].
	paths map[string]bool
}

// readCRDs reads cloudop's CRDs from the API server.
func readCRDs(t *testing.T) map[string]crdState {
	t.Helper()
	list := &unstructured.UnstructuredList{}
	list.SetAPIVersion("apiextensions.k8s.io/v1")
	list.SetKind("CustomResourceDefinitionList")
	if err := k8sClient.List(context.Background(), list); err != nil {
		t.Fatal(err)
	}
	out := map[string]crdState{}
	for _, crd := range list.Items {
		if !strings.HasSuffix(crd.GetName(), "."+opsv1.GroupVersion.Group) {
			continue
		}
		stored, _, _ := unstructured.NestedStringSlice(crd.Object, "status", "storedVersions")
		out[crd.GetName()] = crdState{uid: string(crd.GetUID()), storedVersions: stored, paths: crdPaths(t, crd.Object)}
	}
	if len(out) != 2 {
		t.Fatalf("found cloudop CRDs %v, want CloudOperation and CloudOperationSource", slices.Sorted(maps.Keys(out)))
	}
	return out
}

// chartCRDPaths are the field paths of the CRDs the current chart ships.
func chartCRDPaths(t *testing.T) map[string]map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(repoRoot, "charts", "cloudop", "files", "generated", "crds", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in the chart: %v", err)
	}
	out := map[string]map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var crd map[string]any
		if err := yaml.Unmarshal(data, &crd); err != nil {
			t.Fatal(err)
		}
		out[crd["metadata"].(map[string]any)["name"].(string)] = crdPaths(t, crd)
	}
	return out
}

// jsonSchema is the part of an OpenAPI v3 schema that names fields.
type jsonSchema struct {
	Properties map[string]*jsonSchema `json:"properties"`
	Items      *jsonSchema            `json:"items"`
}

func crdPaths(t *testing.T, crd map[string]any) map[string]bool {
	t.Helper()
	versions, _, _ := unstructured.NestedSlice(crd, "spec", "versions")
	if len(versions) != 1 {
		t.Fatalf("CRD %v serves %d versions; the test compares one", crd["metadata"], len(versions))
	}
	raw, _, _ := unstructured.NestedMap(versions[0].(map[string]any), "schema", "openAPIV3Schema")
	data, _ := json.Marshal(raw)
	var s jsonSchema
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	var walk func(s *jsonSchema, prefix string)
	walk = func(s *jsonSchema, prefix string) {
		if s == nil {
			return
		}
		for name, p := range s.Properties {
			path := strings.TrimPrefix(prefix+"."+name, ".")
			paths[path] = true
			walk(p, path)
		}
		if s.Items != nil {
			walk(s.Items, prefix+"[]")
		}
	}
	walk(&s, "")
	return paths
}

// subtract lists the keys of a that b lacks, sorted.
func subtract(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// checkStatusKept: what the old manager recorded stays as it was: the
// operation's start, every step that had ended (phase, service status,
// times, sub-steps), and the start of the step that was running.
func checkStatusKept(t *testing.T, name string, was, now opsv1.CloudOperationStatus) {
	t.Helper()
	if !was.StartTime.Equal(now.StartTime) {
		t.Errorf("%s: status.startTime %v at the handover, %v at the end", name, was.StartTime, now.StartTime)
	}
	steps := map[string]opsv1.OperationStep{}
	for _, s := range now.Steps {
		steps[s.Name] = s
	}
	for _, s := range was.Steps {
		if s.Phase == opsv1.PhasePending || s.Phase == "" {
			// Not started: a job step's name gains its resource
			// ("createServer (server …)") once it starts.
			continue
		}
		got, ok := steps[s.Name]
		switch {
		case !ok:
			t.Errorf("%s: step %q of the old manager's status is gone", name, s.Name)
		case s.Phase == opsv1.PhaseSucceeded || s.Phase == opsv1.PhaseFailed:
			if !reflect.DeepEqual(got, s) {
				t.Errorf("%s: step %q ended before the upgrade as %+v; after it, %+v", name, s.Name, s, got)
			}
		case s.Phase == opsv1.PhaseRunning && !s.StartTime.Equal(got.StartTime):
			t.Errorf("%s: step %q started at %v before the upgrade, at %v after it", name, s.Name, s.StartTime, got.StartTime)
		}
	}
}

var (
	phaseNote = regexp.MustCompile(`^phase (\S+) → (\S+)`)
	stepNote  = regexp.MustCompile(`^step (".*") is (\S+)$`)
)

// checkTransitionEvents reads op's Events and checks that they announce
// each transition once across the handover: the PhaseChanged events form
// one chain from "new" to the final phase, each step's StepChanged
// mentions move it forward without repeating and end at its final
// phase, no two events say the same, and both managers announced some.
func checkTransitionEvents(t *testing.T, op *opsv1.CloudOperation, handover time.Time) {
	t.Helper()
	list, err := kube.CoreV1().Events(op.Namespace).List(context.Background(), metav1.ListOptions{FieldSelector: "involvedObject.uid=" + string(op.UID)})
	if err != nil {
		t.Fatal(err)
	}
	events := list.Items
	when := func(e corev1.Event) time.Time {
		if !e.EventTime.IsZero() {
			return e.EventTime.Time
		}
		return e.FirstTimestamp.Time
	}
	slices.SortStableFunc(events, func(a, b corev1.Event) int { return when(a).Compare(when(b)) })
	var lines []string
	seen := map[string]bool{}
	phase := "new"
	stepPhases := map[string][]string{}
	var beforeHandover, afterHandover int
	for _, e := range events {
		line := fmt.Sprintf("%s %s %s: %s", when(e).Format("15:04:05.000"), e.Type, e.Reason, e.Message)
		lines = append(lines, line)
		if when(e).Before(handover) {
			beforeHandover++
		} else {
			afterHandover++
		}
		if seen[e.Reason+"\x00"+e.Message] {
			t.Errorf("%s: announced twice: %s", op.Name, line)
		}
		seen[e.Reason+"\x00"+e.Message] = true
		switch e.Reason {
		case "PhaseChanged":
			m := phaseNote.FindStringSubmatch(e.Message)
			if m == nil {
				t.Errorf("%s: PhaseChanged event %q does not parse", op.Name, e.Message)
				continue
			}
			if m[1] != phase {
				t.Errorf("%s: a phase transition is lost or repeated: after %s comes %q", op.Name, phase, e.Message)
			}
			phase = m[2]
		case "StepChanged":
			for _, part := range strings.Split(e.Message, "; ") {
				m := stepNote.FindStringSubmatch(part)
				if m == nil {
					t.Errorf("%s: StepChanged event %q does not parse", op.Name, e.Message)
					continue
				}
				name, err := strconv.Unquote(m[1])
				if err != nil {
					t.Errorf("%s: StepChanged event %q does not parse: %v", op.Name, e.Message, err)
					continue
				}
				stepPhases[name] = append(stepPhases[name], m[2])
			}
		default:
			t.Errorf("%s: unexpected event %s", op.Name, line)
		}
	}
	if phase != string(op.Status.Phase) {
		t.Errorf("%s: the phase events end at %s, the status is %s", op.Name, phase, op.Status.Phase)
	}
	rank := map[string]int{"Pending": 0, "Running": 1, "Succeeded": 2, "Failed": 2, "Cancelled": 2, "Unknown": 2}
	for _, s := range op.Status.Steps {
		got := stepPhases[s.Name]
		delete(stepPhases, s.Name)
		if s.Phase == opsv1.PhasePending {
			if len(got) > 0 {
				t.Errorf("%s: step %q never started but was announced %v", op.Name, s.Name, got)
			}
			continue
		}
		if len(got) == 0 || got[len(got)-1] != string(s.Phase) {
			t.Errorf("%s: step %q ended %s; its events say %v", op.Name, s.Name, s.Phase, got)
		}
		for i := 1; i < len(got); i++ {
			if rank[got[i]] <= rank[got[i-1]] {
				t.Errorf("%s: step %q announced %v: a step change repeated or out of order", op.Name, s.Name, got)
				break
			}
		}
	}
	for name, got := range stepPhases {
		t.Errorf("%s: events announce step %q (%v) the status does not have", op.Name, name, got)
	}
	if beforeHandover == 0 || afterHandover == 0 {
		t.Errorf("%s: %d events before the handover and %d after; the test needs both managers to announce transitions", op.Name, beforeHandover, afterHandover)
	}
	if t.Failed() || testing.Verbose() {
		t.Logf("%s events (handover at %s):\n  %s", op.Name, handover.Format("15:04:05.000"), strings.Join(lines, "\n  "))
	}
}

// TestInstallYAMLToHelm: an install made with install.yaml is taken over
// by a Helm release of the same version as docs/install.md's upgrade
// matrix says, keeping the CRDs and with them every CloudOperation: delete
// the Deployment (its selector differs from the chart's, and a selector
// cannot change), then helm install --take-ownership (objects without
// Helm's ownership labels and annotations are adopted) --force-conflicts
// (fields kubectl's server-side apply set, such as the metrics Service's
// selector, are taken over).
func TestInstallYAMLToHelm(t *testing.T) {
	ctx := context.Background()
	const ns = "switch"
	createNamespace(t, ns)
	file := filepath.Join(bundle, "install.yaml")
	mustRun(t, kubectl, "apply", "--server-side", "-f", file)
	crdsBefore := readCRDs(t)
	createOperation(t, ns, "kept", opsv1.CloudOperationSpec{Service: opsv1.ServiceECS, OperationID: upgECS})
	kept := getOperation(t, ns, "kept")
	t.Cleanup(func() { k8sClient.Delete(context.Background(), kept) })

	// The steps of docs/install.md.
	mustRun(t, kubectl, "delete", "deployment", managerName, "--namespace", releaseNamespace)
	// The chart's defaults (two replicas: install.yaml's PodDisruptionBudget
	// has its counterpart in the release); no manager runs here.
	helmRelease(t, "install", chartPath(), map[string]any{}, "--take-ownership", "--force-conflicts")
	manifest := mustRun(t, helm, "get", "manifest", release, "--namespace", releaseNamespace)

	for name, before := range readCRDs(t) {
		if before.uid != crdsBefore[name].uid {
			t.Errorf("CRD %s was replaced when Helm took it over", name)
		}
	}
	if got := getOperation(t, ns, "kept"); got.UID != kept.UID {
		t.Errorf("the CloudOperation was replaced when Helm took the CRD over")
	}
	// Every object of install.yaml but the Namespace is the release's now,
	// so helm uninstall removes it (noLeftovers).
	inRelease := map[string]bool{}
	for _, obj := range manifestObjects(t, manifest) {
		inRelease[obj["kind"].(string)+"/"+obj["metadata"].(map[string]any)["name"].(string)] = true
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range manifestObjects(t, string(data)) {
		key := obj["kind"].(string) + "/" + obj["metadata"].(map[string]any)["name"].(string)
		if obj["kind"] != "Namespace" && !inRelease[key] {
			t.Errorf("install.yaml's %s is not in the Helm release: it would stay behind unmanaged", key)
		}
	}
	dep, err := kube.AppsV1().Deployments(releaseNamespace).Get(ctx, managerName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := renderedDeployment(t, manifest, managerName).Spec.Selector; !reflect.DeepEqual(dep.Spec.Selector, want) {
		t.Errorf("the Deployment's selector is %v, want the chart's %v", dep.Spec.Selector, want)
	}
	uninstall(t)
	noLeftovers(t, manifest, true)
}

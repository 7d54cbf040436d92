package controller

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	testingclock "k8s.io/utils/clock/testing"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/testenv"
)

// kubectl runs the built kubectl against the test control plane.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	g := NewWithT(t)
	bin, err := testenv.Kubectl()
	g.Expect(err).NotTo(HaveOccurred())
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(testenv.WriteKubeconfig(restConfig, kubeconfig)).To(Succeed())
	out, err := exec.Command(bin, append([]string{"--kubeconfig", kubeconfig}, args...)...).CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "kubectl %s\n%s", strings.Join(args, " "), out)
	return string(out)
}

func TestKubectlGetShowsPrinterColumns(t *testing.T) {
	g := NewWithT(t)
	ns := newNamespace(t)
	newSecret(t, ns, "creds", validCredentials())
	obj := newCCEOperation(ns, "upgrade", "wf-kubectl")
	g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	observer := newFakeObserver()
	op := runningOp()
	op.Message = "upgrading control plane"
	observer.set("wf-kubectl", op, nil)
	r := newTestReconciler(observer, testNow)
	reconcileOnce(t, r, obj)
	reconcileOnce(t, r, obj)

	for _, resource := range []string{"cloudoperations", "cloudop", "cloud"} {
		out := kubectl(t, "get", resource, "-n", ns)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		g.Expect(lines).To(HaveLen(2), out)
		g.Expect(strings.Fields(lines[0])).To(Equal([]string{"NAME", "SERVICE", "OPERATION", "PHASE", "PROGRESS", "STEP", "READY", "AGE"}), resource)
		name := "upgrade"
		if resource == "cloud" {
			// The category spans CloudOperationSources too: kubectl
			// names each object's kind.
			name = "cloudoperation.ops.cloudop.dev/upgrade"
		}
		g.Expect(strings.Fields(lines[1])[:7]).To(Equal([]string{name, "CCE", "wf-kubectl", "Running", "25", "Snapshot", "False"}), resource)
	}

	// A source's columns.
	src := &opsv1.CloudOperationSource{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "chain"},
		Spec:       opsv1.CloudOperationSourceSpec{Service: opsv1.SourceBCS, Region: "cn-north-4", BlockchainID: "chain-1", CredentialsSecretRef: opsv1.SecretReference{Name: "creds"}},
	}
	g.Expect(k8s.Create(context.Background(), src)).To(Succeed())
	src.Status.Resource = "blockchain/chain-1"
	g.Expect(k8s.Status().Update(context.Background(), src)).To(Succeed())
	for _, resource := range []string{"cloudoperationsources", "cloudopsrc"} {
		lines := strings.Split(strings.TrimSpace(kubectl(t, "get", resource, "-n", ns)), "\n")
		g.Expect(lines).To(HaveLen(2))
		g.Expect(strings.Fields(lines[0])).To(Equal([]string{"NAME", "SERVICE", "RESOURCE", "LISTED", "MIRRORED", "LAST", "LIST", "READY", "AGE"}), resource)
		g.Expect(strings.Fields(lines[1])[:3]).To(Equal([]string{"chain", "BCS", "blockchain/chain-1"}), resource)
	}

	wide := kubectl(t, "get", "cloudoperations", "-n", ns, "-o", "wide")
	g.Expect(wide).To(ContainSubstring("MESSAGE"))
	g.Expect(wide).To(ContainSubstring("upgrading control plane"))

	// The selectable field works with a field selector.
	g.Expect(kubectl(t, "get", "cloudoperations", "-n", ns, "--field-selector", "spec.service=CCE", "-o", "name")).
		To(Equal("cloudoperation.ops.cloudop.dev/upgrade\n"))
	g.Expect(kubectl(t, "get", "cloudoperations", "-n", ns, "--field-selector", "spec.service=DWS", "-o", "name")).
		To(BeEmpty())
}

// TestKubectlDescribeListsEventsInOrder: kubectl describe orders events by
// their legacy lastTimestamp, so the writer must set it.
func TestKubectlDescribeListsEventsInOrder(t *testing.T) {
	g := NewWithT(t)
	_, obj, observer := newTrackedOperation(t, "wf-describe", runningOp(), nil)
	r := newTestReconciler(observer, testNow)
	r.StepEvents = StepEventsAll // a step event between the two phase events
	clk := r.Clock.(*testingclock.FakePassiveClock)
	reconcileOnce(t, r, obj)
	moved := runningOp()
	moved.Steps[1].Phase, moved.Steps[2].Phase = cloud.PhaseSucceeded, cloud.PhaseRunning
	clk.SetTime(testNow.Add(time.Minute))
	observer.set("wf-describe", moved, nil)
	reconcileOnce(t, r, obj)
	clk.SetTime(testNow.Add(2 * time.Minute))
	observer.set("wf-describe", succeededOp(), nil)
	reconcileOnce(t, r, obj)

	// Events in names' (hash) order would pass this one time in six.
	out := kubectl(t, "describe", "cloudoperation", obj.Name, "-n", obj.Namespace)
	first := strings.Index(out, "phase new → Running")
	middle := strings.Index(out, `step "Cluster" is Running`)
	last := strings.Index(out, "phase Running → Succeeded")
	g.Expect(first).To(BeNumerically(">=", 0), out)
	g.Expect(middle).To(BeNumerically(">", first), "events out of order:\n"+out)
	g.Expect(last).To(BeNumerically(">", middle), "events out of order:\n"+out)
	g.Expect(out).To(ContainSubstring("ops.cloudop.dev/test"), "the From column names the controller")
}

package plugin

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/testkit"
)

// TestPoll checks that poll sets the requested-poll annotation and returns
// once status.lastHandledPollRequest echoes it; the test plays the manager.
func TestPoll(t *testing.T) {
	ns := newNamespace(t)
	obj := createWithStatus(t, ns, running("op"))
	run := runInBackground("-n", ns, "poll", "op", "--timeout", "30s")

	var request string
	testkit.Eventually(t, 10*time.Second, "poll to set the "+opsv1.AnnotationRequestedPoll+" annotation", func() (bool, string) {
		var got opsv1.CloudOperation
		if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), &got); err != nil {
			t.Fatal(err)
		}
		request = got.Annotations[opsv1.AnnotationRequestedPoll]
		return request != "", fmt.Sprintf("annotations %v", got.Annotations)
	})
	handled := time.Now()
	setStatus(t, obj, func(st *opsv1.CloudOperationStatus) { st.LastHandledPollRequest = request })
	select {
	case res := <-run.done:
		if res.at.Before(handled) {
			t.Fatalf("poll returned before the request was handled: %+v", res)
		}
		if res.err != nil || !strings.Contains(res.stdout, "op  ECS job-op") {
			t.Errorf("poll: %v\n%s", res.err, res.stdout)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("poll did not return after the request was handled")
	}

	res := runPlugin(context.Background(), "-n", ns, "poll", "op", "--timeout", "1s")
	if res.code != ExitTimeout {
		t.Errorf("poll without a manager: code %d, %v; want %d", res.code, res.err, ExitTimeout)
	}
}

// TestSuspendResume checks the suspend annotation and the tree's note.
func TestSuspendResume(t *testing.T) {
	ns := newNamespace(t)
	obj := createWithStatus(t, ns, running("op"))
	ctx := context.Background()
	res := runPlugin(ctx, "-n", ns, "suspend", "op")
	if res.err != nil || res.stdout != "cloudoperation.ops.cloudop.dev/op suspended\n" {
		t.Fatalf("suspend: %q %v", res.stdout, res.err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil || !obj.IsSuspended() {
		t.Fatalf("after suspend: annotations %v, %v", obj.Annotations, err)
	}
	if res := runPlugin(ctx, "-n", ns, "get", "op"); !strings.Contains(res.stdout, "polling suspended") {
		t.Errorf("get of a suspended operation does not say so:\n%s", res.stdout)
	}
	if res := runPlugin(ctx, "-n", ns, "resume", "op"); res.err != nil {
		t.Fatalf("resume: %v", res.err)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil || obj.IsSuspended() {
		t.Fatalf("after resume: annotations %v, %v", obj.Annotations, err)
	}
	if _, ok := obj.Annotations[opsv1.AnnotationSuspend]; ok {
		t.Errorf("resume left the annotation: %v", obj.Annotations)
	}
	if res := runPlugin(ctx, "-n", ns, "suspend", "nothere"); res.code != ExitError {
		t.Errorf("suspend nothere: code %d", res.code)
	}
}

// TestTrack checks that track creates the CloudOperation the flags
// describe, and shows admission's rejection field by field.
func TestTrack(t *testing.T) {
	ns := newNamespace(t)
	ctx := context.Background()
	res := runPlugin(ctx, "-n", ns, "track", "cce", "--id", "c271e39e-1a6e-4d3d-8fa8-2a36329c68d1",
		"--cluster", "b4b9e60f-8aa2-11ee-af09-0255ac10004f", "--region", "cn-north-4",
		"--credentials-secret", "huaweicloud-credentials", "--name", "upgrade", "--label", "team=k8s", "--poll-interval", "1m")
	if res.err != nil || res.stdout != "cloudoperation.ops.cloudop.dev/upgrade created\n" {
		t.Fatalf("track: %q %v", res.stdout, res.err)
	}
	var got opsv1.CloudOperation
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "upgrade"}, &got); err != nil {
		t.Fatal(err)
	}
	if got.Spec.Service != opsv1.ServiceCCE || got.Spec.ClusterID != "b4b9e60f-8aa2-11ee-af09-0255ac10004f" ||
		got.Spec.CredentialsSecretRef.Name != "huaweicloud-credentials" || got.Labels["team"] != "k8s" ||
		got.GetPollInterval() != time.Minute {
		t.Errorf("track created %+v", got)
	}

	res = runPlugin(ctx, "-n", ns, "track", "ECS", "--type", "job", "--id", "ff8080828c5bd2a1018c6cb3b6c12b4c",
		"--region", "cn-north-4", "--credentials-secret", "creds", "-o", "name")
	if res.err == nil {
		t.Errorf("track accepted an unknown flag -o")
	}
	res = runPlugin(ctx, "-n", ns, "track", "ECS", "--type", "job", "--id", "ff8080828c5bd2a1018c6cb3b6c12b4c",
		"--region", "cn-north-4", "--credentials-secret", "creds")
	if res.err != nil || !strings.HasPrefix(res.stdout, "cloudoperation.ops.cloudop.dev/ecs-") {
		t.Errorf("track ECS with a generated name: %q %v", res.stdout, res.err)
	}

	for _, tt := range []struct {
		args []string
		want []string
	}{
		{[]string{"CCE", "--id", "x1", "--region", "cn-north-4", "--credentials-secret", "c"},
			[]string{"the API server rejected the CloudOperation:", "spec.clusterID: Required value: clusterID is required for a CCE upgrade workflow"}},
		{[]string{"DWS", "--id", "x1", "--region", "moon", "--credentials-secret", "c", "--stack", "s"},
			[]string{"spec.region", "spec.stackID", "spec.clusterID"}},
		{[]string{"ECS", "--region", "cn-north-4", "--credentials-secret", "c"},
			[]string{`required flag(s) "id" not set`}},
		{[]string{"ECS", "--id", "x", "--region", "cn-north-4", "--credentials-secret", "c", "--name", "a", "--generate-name", "b"},
			[]string{"not both"}},
	} {
		res := runPlugin(ctx, append([]string{"-n", ns, "track"}, tt.args...)...)
		if res.code != ExitError {
			t.Errorf("track %v: code %d, want %d", tt.args, res.code, ExitError)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(res.err.Error(), w) {
				t.Errorf("track %v: error lacks %q:\n%v", tt.args, w, res.err)
			}
		}
	}
}

// TestTrackWait checks that track --wait follows the new operation until it
// ends, with watch's exit code.
func TestTrackWait(t *testing.T) {
	ns := newNamespace(t)
	run := runInBackground("-n", ns, "track", "ECS", "--id", "job1", "--region", "cn-north-4",
		"--credentials-secret", "c", "--name", "w", "--wait", "--timeout", "1m")
	obj := &opsv1.CloudOperation{}
	obj.Namespace, obj.Name = ns, "w"
	testkit.Eventually(t, 10*time.Second, "track to create the CloudOperation", func() (bool, string) {
		err := k8s.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		return err == nil, fmt.Sprint(err)
	})
	want := running("w").Status
	setStatus(t, obj, func(st *opsv1.CloudOperationStatus) { *st = want })
	finish(t, obj, opsv1.PhaseFailed, "quota")
	select {
	case res := <-run.done:
		if res.code != ExitOperationFailed || !strings.Contains(res.stdout, "cloudoperation.ops.cloudop.dev/w created\n") ||
			!strings.Contains(res.stdout, "w Failed") {
			t.Errorf("track --wait: code %d, %v\n%s", res.code, res.err, res.stdout)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("track --wait did not return after the operation failed")
	}
}

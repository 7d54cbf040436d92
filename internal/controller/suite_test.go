package controller

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/clock"
	testingclock "k8s.io/utils/clock/testing"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/testenv"
	"github.com/cloudop/cloudop/internal/testkit"
)

// One control plane for the package, started in TestMain.
var (
	restConfig *rest.Config
	k8s        client.Client
)

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	env, cfg, err := testenv.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	restConfig = cfg
	if k8s, err = testkit.Client(cfg); err != nil {
		fmt.Fprintln(os.Stderr, err)
		_ = env.Stop()
		os.Exit(1)
	}
	code := m.Run()
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "stopping control plane:", err)
	}
	os.Exit(code)
}

// zapLevel keeps test output quiet unless CLOUDOP_TEST_VERBOSE is set.
func zapLevel() zapcore.Level {
	if os.Getenv("CLOUDOP_TEST_VERBOSE") != "" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}

// newNamespace creates a namespace of its own for one test, with the
// package's client.
func newNamespace(t *testing.T) string {
	t.Helper()
	return testkit.Namespace(t, k8s, "test")
}

// newSecret creates a credentials Secret in ns.
func newSecret(t *testing.T, ns, name string, data map[string]string) {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	NewWithT(t).Expect(k8s.Create(context.Background(), s)).To(Succeed(), "creating secret")
}

// validCredentials are the Secret keys of a working account.
func validCredentials() map[string]string {
	return map[string]string{"accessKey": "AK0000TEST", "secretKey": "sk-test", "projectID": "0123456789abcdef0123456789abcdef"}
}

// fakeObserver is the test adapter: it returns what a test scripted for
// each operation ID and counts the calls.
type fakeObserver struct {
	mu      sync.Mutex
	answers map[string]answer
	calls   map[string]int
	targets map[string]cloud.Target
	// beforeObserve, when set, runs at the start of each call (outside the
	// lock), so a test can look at what was written before the call.
	beforeObserve func()
}

type answer struct {
	op  *cloud.Operation
	err error
}

func newFakeObserver() *fakeObserver {
	return &fakeObserver{answers: map[string]answer{}, calls: map[string]int{}, targets: map[string]cloud.Target{}}
}

func (f *fakeObserver) set(operationID string, op *cloud.Operation, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answers[operationID] = answer{op: op, err: err}
}

func (f *fakeObserver) Observe(_ context.Context, t cloud.Target, _ string) (*cloud.Operation, error) {
	if f.beforeObserve != nil {
		f.beforeObserve()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[t.OperationID]++
	f.targets[t.OperationID] = t
	a, ok := f.answers[t.OperationID]
	if !ok {
		return nil, &cloud.Error{Kind: cloud.KindNotFound, HTTPStatus: 404, Code: "TEST.404", Message: "no such operation"}
	}
	if a.op == nil {
		return nil, a.err
	}
	op := *a.op
	return &op, a.err
}

func (f *fakeObserver) callCount(operationID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[operationID]
}

// namespaceEvents lists the events recorded in ns as "type reason note",
// sorted: the API server's copy, so tests see what users see.
func namespaceEvents(t *testing.T, ns string) []string {
	t.Helper()
	var list eventsv1.EventList
	NewWithT(t).Expect(k8s.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed(), "listing events")
	out := make([]string, 0, len(list.Items))
	for _, e := range list.Items {
		out = append(out, e.Type+" "+e.Reason+" "+e.Note)
	}
	sort.Strings(out)
	return out
}

// countEvents counts the events of ns whose "type reason note" contains
// substr.
func countEvents(t *testing.T, ns, substr string) int {
	t.Helper()
	n := 0
	for _, e := range namespaceEvents(t, ns) {
		if strings.Contains(e, substr) {
			n++
		}
	}
	return n
}

// newTestReconciler builds a reconciler that talks to the control plane
// directly (no cache), so each Reconcile call sees the latest object, and
// records events with the real EventWriter.
func newTestReconciler(obs Observer, now time.Time) *CloudOperationReconciler {
	return newTestReconcilerOn(obs, testingclock.NewFakePassiveClock(now))
}

// newTestReconcilerOn is newTestReconciler with clk as the reconciler's and
// the event writer's clock, for a test that shares one clock with the
// cloud and moves it along.
func newTestReconcilerOn(obs Observer, clk clock.PassiveClock) *CloudOperationReconciler {
	return &CloudOperationReconciler{
		Client:   k8s,
		Secrets:  &SecretCache{Reader: k8s},
		Observer: obs,
		Recorder: &EventWriter{Client: k8s, Controller: "ops.cloudop.dev/test", Instance: "test", Clock: clk},
		Policy:   PollPolicy{MaxBackoff: 10 * time.Minute, ResumableInterval: 5 * time.Minute, AuthRetryInterval: 2 * time.Minute, MinInterval: 5 * time.Second},
		Clock:    clk,
	}
}

func secretObject(ns, name string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
}

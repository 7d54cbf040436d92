package tracing

import (
	"context"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configgrpc"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/receiver/receivertest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/testenv"
	"github.com/cloudop/cloudop/internal/testkit"
	"github.com/cloudop/cloudop/internal/tracing"
)

const (
	project   = "0123456789abcdef0123456789abcdef"
	accessKey = "AKTRACING000000001"
	secretKey = "sk-tracing"
)

// receiver is the Collector's OTLP receiver (HTTP only) on a free port,
// keeping what it decoded.
func receiver(t *testing.T) (endpoint string, sink *consumertest.TracesSink) {
	t.Helper()
	factory := otlpreceiver.NewFactory()
	cfg := factory.CreateDefaultConfig().(*otlpreceiver.Config)
	// GetOrInsertDefault turns the receiver's default HTTP settings on.
	http := cfg.Protocols.HTTP.GetOrInsertDefault()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	http.ServerConfig.NetAddr.Endpoint = addr
	cfg.Protocols.GRPC = configoptional.None[configgrpc.ServerConfig]()
	sink = new(consumertest.TracesSink)
	rcv, err := factory.CreateTraces(context.Background(), receivertest.NewNopSettings(factory.Type()), cfg, sink)
	if err != nil {
		t.Fatal(err)
	}
	if err := rcv.Start(context.Background(), componenttest.NewNopHost()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rcv.Shutdown(context.Background()) })
	return "http://" + addr, sink
}

// manager is the manager binary running as its own process.
type manager struct {
	cmd  *exec.Cmd
	done chan error
}

func startManager(t *testing.T, bin, kubeconfig, simURL, otlp string) *manager {
	t.Helper()
	args := []string{"--kubeconfig", kubeconfig, "--metrics-bind-address", "0", "--metrics-secure=false", "--health-probe-bind-address", "0"}
	for _, svc := range []string{"CCE", "ECS", "BCS"} {
		args = append(args, "--service-endpoint", svc+"="+simURL)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "OTEL_EXPORTER_OTLP_ENDPOINT="+otlp, "OTEL_BSP_SCHEDULE_DELAY=200")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	m := &manager{cmd: cmd, done: make(chan error, 1)}
	go func() { m.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-m.done })
	return m
}

// stop ends the manager as the kubelet would (SIGTERM) and waits.
func (m *manager) stop(t *testing.T) {
	t.Helper()
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-m.done:
		m.done <- err
		if err != nil {
			t.Fatalf("manager exited: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("manager did not stop within 30s of SIGTERM")
	}
}

// TestOneTracePerOperationAcrossRestart: operations run in cloudsim and
// end; the manager restarts; the Collector's OTLP receiver holds exactly
// one trace per operation, with the operation's span, one span per step
// and sub-step under it, and the cloud's times.
func TestOneTracePerOperationAcrossRestart(t *testing.T) {
	work := t.TempDir()
	bin := filepath.Join(work, "manager")
	// Built in the operator's module, with its dependencies, as shipped.
	build := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	build.Dir = "../.."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the manager: %v\n%s", err, out)
	}
	env, cfg, err := testenv.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(work, "kubeconfig")
	if err := testenv.WriteKubeconfig(cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	k8s, err := testkit.Client(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sim, err := cloudsim.New(cloudsim.Config{
		Accounts: []cloudsim.Account{{AccessKey: accessKey, SecretKey: secretKey, ProjectIDs: []string{project}}},
		Settings: cloudsim.Settings{StepDuration: cloudsim.D(2 * time.Second)},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	otlp, sink := receiver(t)
	ns := testkit.Namespace(t, k8s, "traces", testkit.CredentialsSecret("creds", accessKey, secretKey, project))

	ops := []struct {
		sim  cloudsim.OperationSpec
		spec opsv1.CloudOperationSpec
	}{
		{cloudsim.OperationSpec{Service: cloudsim.CCE, ID: "wf-ok", ClusterID: "c1", Scenario: cloudsim.ScenarioSuccess},
			opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE, ClusterID: "c1", OperationID: "wf-ok"}},
		{cloudsim.OperationSpec{Service: cloudsim.ECS, ID: "job-ok", Scenario: cloudsim.ScenarioSuccess, Steps: []cloudsim.StepSpec{{Name: "createSingleServer"}, {Name: "createSingleServer"}}},
			opsv1.CloudOperationSpec{Service: opsv1.ServiceECS, OperationID: "job-ok"}},
		{cloudsim.OperationSpec{Service: cloudsim.BCS, ID: "BCSSVC01-03-1700000000000000001", BlockchainID: "chain-1", Scenario: cloudsim.ScenarioFail, Params: cloudsim.Params{Step: 2}},
			opsv1.CloudOperationSpec{Service: opsv1.ServiceBCS, BlockchainID: "chain-1", OperationID: "BCSSVC01-03-1700000000000000001"}},
	}
	for i, op := range ops {
		op.sim.ProjectID = project
		if err := sim.AddOperation(op.sim); err != nil {
			t.Fatal(err)
		}
		op.spec.Region, op.spec.CredentialsSecretRef = "cn-north-4", opsv1.SecretReference{Name: "creds"}
		op.spec.PollInterval = &metav1.Duration{Duration: 5 * time.Second}
		obj := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("op-%d", i)}, Spec: op.spec}
		if err := k8s.Create(context.Background(), obj); err != nil {
			t.Fatal(err)
		}
	}

	first := startManager(t, bin, kubeconfig, srv.URL, otlp)
	var finished opsv1.CloudOperationList
	testkit.Eventually(t, 2*time.Minute, "every operation finished", func() (bool, string) {
		if err := k8s.List(context.Background(), &finished, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		n := 0
		for _, o := range finished.Items {
			if o.IsTerminal() {
				n++
			}
		}
		return n == len(ops), fmt.Sprintf("%d of %d finished", n, len(ops))
	})
	first.stop(t)

	// A restarted manager reads the finished objects again; a sentinel
	// that never ends proves it has been polling for a while.
	if err := sim.AddOperation(cloudsim.OperationSpec{Service: cloudsim.ECS, ID: "sentinel", ProjectID: project, Scenario: cloudsim.ScenarioNever}); err != nil {
		t.Fatal(err)
	}
	sentinel := &opsv1.CloudOperation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sentinel"}, Spec: opsv1.CloudOperationSpec{
		Service: opsv1.ServiceECS, Region: "cn-north-4", OperationID: "sentinel", CredentialsSecretRef: opsv1.SecretReference{Name: "creds"},
		PollInterval: &metav1.Duration{Duration: 5 * time.Second}}}
	if err := k8s.Create(context.Background(), sentinel); err != nil {
		t.Fatal(err)
	}
	second := startManager(t, bin, kubeconfig, srv.URL, otlp)
	testkit.Eventually(t, time.Minute, "three polls of the sentinel", func() (bool, string) {
		n := sim.RequestCount(cloudsim.ECS, "sentinel")
		return n >= 3, fmt.Sprintf("%d polls", n)
	})
	second.stop(t)

	spans := map[string][]ptrace.Span{} // by trace ID
	for _, td := range sink.AllTraces() {
		for _, rs := range td.ResourceSpans().All() {
			if name, _ := rs.Resource().Attributes().Get("service.name"); name.Str() != "cloudop-manager" {
				t.Errorf("resource service.name %q", name.Str())
			}
			for _, ss := range rs.ScopeSpans().All() {
				for _, s := range ss.Spans().All() {
					spans[s.TraceID().String()] = append(spans[s.TraceID().String()], s)
				}
			}
		}
	}
	if len(spans) != len(ops) {
		t.Fatalf("the receiver holds %d traces, want %d (one per finished operation, none for the sentinel)", len(spans), len(ops))
	}
	for _, o := range finished.Items {
		trace := spans[tracing.TraceID(o.UID).String()]
		checkTrace(t, &o, trace)
	}
}

// checkTrace compares one trace with the object's final status: a root
// span with the operation's times, one span per step and sub-step with
// theirs, parented as the steps nest, each once.
func checkTrace(t *testing.T, o *opsv1.CloudOperation, trace []ptrace.Span) {
	t.Helper()
	// Steps that never ran (pending, no start: after a failure) get no
	// span.
	ran := func(s opsv1.StepStatus) bool {
		return s.StartTime != nil || (s.Phase != opsv1.PhasePending && s.Phase != "")
	}
	want := 1
	for _, s := range o.Status.Steps {
		if !ran(s.StepStatus) {
			continue
		}
		want++
		for _, sub := range s.SubSteps {
			if ran(sub) {
				want++
			}
		}
	}
	if len(trace) != want {
		t.Errorf("%s: %d spans, want %d (the operation, %d steps and their sub-steps)", o.Name, len(trace), want, len(o.Status.Steps))
		return
	}
	ids := map[string]ptrace.Span{}
	var root ptrace.Span
	for _, s := range trace {
		if _, dup := ids[s.SpanID().String()]; dup {
			t.Errorf("%s: span %s twice", o.Name, s.SpanID())
		}
		ids[s.SpanID().String()] = s
		if s.ParentSpanID().IsEmpty() {
			root = s
		}
	}
	if !root.StartTimestamp().AsTime().Equal(o.Status.StartTime.Time) || !root.EndTimestamp().AsTime().Equal(o.Status.CompletionTime.Time) {
		t.Errorf("%s: root span %v – %v, status %v – %v", o.Name, root.StartTimestamp().AsTime(), root.EndTimestamp().AsTime(), o.Status.StartTime, o.Status.CompletionTime)
	}
	if phase, _ := root.Attributes().Get("cloudop.phase"); phase.Str() != string(o.Status.Phase) {
		t.Errorf("%s: root phase %q, want %s", o.Name, phase.Str(), o.Status.Phase)
	}
	for _, step := range o.Status.Steps {
		if !ran(step.StepStatus) {
			continue
		}
		i := slices.IndexFunc(trace, func(s ptrace.Span) bool {
			return s.Name() == step.Name && s.ParentSpanID() == root.SpanID() && spanHasTimes(s, step.StartTime, step.CompletionTime)
		})
		if i < 0 {
			t.Errorf("%s: no span under the root for step %q (%v – %v)", o.Name, step.Name, step.StartTime, step.CompletionTime)
			continue
		}
		for _, sub := range step.SubSteps {
			if !ran(sub) {
				continue
			}
			if !slices.ContainsFunc(trace, func(s ptrace.Span) bool { return s.Name() == sub.Name && s.ParentSpanID() == trace[i].SpanID() }) {
				t.Errorf("%s: no span under step %q for sub-step %q", o.Name, step.Name, sub.Name)
			}
		}
	}
}

// spanHasTimes reports whether s has the step's times where it has them.
func spanHasTimes(s ptrace.Span, start, end *metav1.Time) bool {
	return (start == nil || s.StartTimestamp().AsTime().Equal(start.Time)) && (end == nil || s.EndTimestamp().AsTime().Equal(end.Time))
}

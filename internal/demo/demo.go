// Package demo runs cloudop's main job on an embedded default: a local
// control plane (kube-apiserver and etcd), cloudsim and the manager pointed
// at it, with the CloudOperations of config/demo applied. `make demo` runs
// it with live output; the e2e tests run the same scenario headless.
package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/controller"
	"github.com/cloudop/cloudop/internal/manager"
	"github.com/cloudop/cloudop/internal/testenv"
	"github.com/cloudop/cloudop/internal/tracing"
)

// Namespace is where the demo's objects live.
const Namespace = "demo"

// Options configures an environment.
type Options struct {
	// WorkDir receives the kubeconfig; it is created if missing.
	WorkDir string
	// Policy overrides the poll policy (the demo retries auth failures
	// quickly so a fixed Secret shows at once).
	Policy *controller.PollPolicy
}

// Environment is a running control plane, cloudsim and manager.
type Environment struct {
	// RestConfig reaches the control plane as an administrator.
	RestConfig *rest.Config
	// Client is a direct (uncached) client of the control plane.
	Client client.Client
	// Traces is the OTLP receiver the manager exports finished
	// operations to.
	Traces *TraceSink
	// Sim is the in-process simulator; SimURL is where it listens.
	Sim    *cloudsim.Simulator
	SimURL string
	// Kubeconfig is the path of a kubeconfig for kubectl.
	Kubeconfig string
	// Kubectl is the path of the built kubectl.
	Kubectl string

	// identityMu guards the identity provider ApplyIdentity builds up:
	// the subjects mapped so far and the control plane's issuer and keys
	// (read once).
	identityMu       sync.Mutex
	identitySubjects []string
	issuerURL        string
	signingKey       string

	env        *envtest.Environment
	simServer  *http.Server
	stopMgr    context.CancelFunc
	managerErr chan error
}

// DemoPolicy polls like production but retries authentication failures
// after 5 seconds instead of 2 minutes, so fixing a Secret shows at once.
func DemoPolicy() controller.PollPolicy {
	p := controller.DefaultPollPolicy()
	p.AuthRetryInterval = 5 * time.Second
	p.MaxBackoff = 20 * time.Second
	return p
}

// Start starts the control plane, cloudsim (loaded with simConfig) and the
// manager. Callers must Stop the environment, also on error paths.
func Start(ctx context.Context, simConfig cloudsim.Config, o Options) (_ *Environment, err error) {
	e := &Environment{}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()

	if e.env, e.RestConfig, err = testenv.Start(); err != nil {
		return nil, err
	}
	if e.Client, err = client.New(e.RestConfig, client.Options{Scheme: manager.NewScheme()}); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.WorkDir, 0o755); err != nil {
		return nil, err
	}
	e.Kubeconfig = filepath.Join(o.WorkDir, "kubeconfig")
	if err := testenv.WriteKubeconfig(e.RestConfig, e.Kubeconfig); err != nil {
		return nil, err
	}
	if e.Kubectl, err = testenv.Kubectl(); err != nil {
		return nil, err
	}

	// cloudsim plays IAM too: ApplyIdentity uploads this control plane's
	// issuer and keys to its identity provider.
	if e.Sim, err = cloudsim.New(simConfig); err != nil {
		return nil, fmt.Errorf("cloudsim: %w", err)
	}
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e.SimURL = "http://" + listener.Addr().String()
	e.simServer = &http.Server{Handler: e.Sim.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.simServer.Serve(listener) }()

	policy := DemoPolicy()
	if o.Policy != nil {
		policy = *o.Policy
	}
	// Every service is pointed at cloudsim, except one this build's
	// transport does not route yet (it would refuse the flag).
	var endpoints []string
	for _, svc := range cloud.Services {
		endpoints = append(endpoints, string(svc)+"="+e.SimURL)
	}
	endpoints = append(endpoints, "IAM="+e.SimURL, "CTS="+e.SimURL)
	// Finished operations go to the demo's own OTLP receiver as traces.
	if e.Traces, err = startTraceSink(); err != nil {
		return nil, err
	}
	traces, err := tracing.NewOTLPHTTP(ctx, e.Traces.URL)
	if err != nil {
		return nil, err
	}
	mgr, err := manager.New(e.RestConfig, manager.Options{
		Workers: 8, RequestTimeout: 5 * time.Second, ServiceEndpoints: endpoints, Policy: &policy, Traces: traces,
	})
	if err != nil {
		return nil, err
	}
	mgrCtx, cancel := context.WithCancel(ctx)
	e.stopMgr = cancel
	e.managerErr = make(chan error, 1)
	go func() { e.managerErr <- mgr.Start(mgrCtx) }()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if err := e.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	return e, nil
}

// Stop stops the manager, cloudsim and the control plane.
func (e *Environment) Stop() {
	if e.stopMgr != nil {
		e.stopMgr()
		select {
		case <-e.managerErr:
		case <-time.After(30 * time.Second):
		}
	}
	if e.simServer != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = e.simServer.Shutdown(ctx)
		cancel()
	}
	if e.Traces != nil {
		e.Traces.close()
	}
	if e.env != nil {
		_ = e.env.Stop()
	}
}

// ApplyScenario starts the scenario's operations in cloudsim and applies
// its CloudOperations, so both begin together.
func (e *Environment) ApplyScenario(ctx context.Context, f Files) error {
	ops := append([]cloudsim.OperationSpec(nil), f.Sim.Operations...)
	for _, t := range f.Sim.Templates {
		expanded, err := t.Expand()
		if err != nil {
			return err
		}
		ops = append(ops, expanded...)
	}
	if err := e.Sim.AddOperations(ops); err != nil {
		return fmt.Errorf("cloudsim: %w", err)
	}
	_, err := e.Apply(ctx, f.Manifest)
	return err
}

// Apply creates every object of a multi-document YAML manifest in the demo
// namespace.
func (e *Environment) Apply(ctx context.Context, manifest []byte) ([]client.Object, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var created []client.Object
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return created, nil
			}
			return created, err
		}
		if len(u.Object) == 0 {
			continue
		}
		u.SetNamespace(Namespace)
		if err := e.Client.Create(ctx, u, client.FieldValidation("Strict")); err != nil {
			return created, fmt.Errorf("creating %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		created = append(created, u)
	}
}

// List returns the demo's CloudOperations.
func (e *Environment) List(ctx context.Context) ([]opsv1.CloudOperation, error) {
	var list opsv1.CloudOperationList
	if err := e.Client.List(ctx, &list, client.InNamespace(Namespace)); err != nil {
		return nil, err
	}
	return list.Items, nil
}

// WaitTerminal polls until every CloudOperation in the demo namespace is
// terminal, calling onChange with the list each time it changed.
func (e *Environment) WaitTerminal(ctx context.Context, onChange func([]opsv1.CloudOperation)) ([]opsv1.CloudOperation, error) {
	var last string
	// allStarted is when cloudsim was first seen with every operation
	// started: the sources must list after it, or an operation started
	// from the "console" late in the scenario would be missed.
	var allStarted time.Time
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		items, err := e.List(ctx)
		if err != nil {
			return nil, err
		}
		if key := fingerprint(items); key != last {
			last = key
			if onChange != nil {
				onChange(items)
			}
		}
		if allStarted.IsZero() && !slices.ContainsFunc(e.Sim.Operations(""), func(o cloudsim.OperationStatus) bool {
			return o.State == cloudsim.StateNotStarted
		}) {
			allStarted = time.Now()
		}
		caughtUp, err := e.sourcesListedAfter(ctx, allStarted)
		if err != nil {
			return nil, err
		}
		if len(items) > 0 && allTerminal(items) && caughtUp {
			return items, nil
		}
		select {
		case <-ctx.Done():
			return items, ctx.Err()
		case <-tick.C:
		}
	}
}

// sourcesListedAfter reports whether every CloudOperationSource of the
// demo has listed since t (never, while t is zero). Status keeps whole
// seconds, so a list in the second after t's is asked for.
func (e *Environment) sourcesListedAfter(ctx context.Context, t time.Time) (bool, error) {
	if t.IsZero() {
		return false, nil
	}
	var sources opsv1.CloudOperationSourceList
	if err := e.Client.List(ctx, &sources, client.InNamespace(Namespace)); err != nil {
		return false, err
	}
	after := t.Truncate(time.Second).Add(time.Second)
	for _, src := range sources.Items {
		if src.Status.LastListTime == nil || src.Status.LastListTime.Time.Before(after) {
			return false, nil
		}
	}
	return true, nil
}

func allTerminal(items []opsv1.CloudOperation) bool {
	for i := range items {
		if !items[i].IsTerminal() || items[i].Status.ObservedGeneration != items[i].Generation {
			return false
		}
	}
	return true
}

func fingerprint(items []opsv1.CloudOperation) string {
	var b bytes.Buffer
	for i := range items {
		fmt.Fprintf(&b, "%s|%s\n", items[i].Name, items[i].ResourceVersion)
	}
	return b.String()
}

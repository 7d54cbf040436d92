package chart

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/cloudop/cloudop/internal/testenv"
)

// update rewrites testdata/golden from the current chart instead of
// comparing with it.
var update = flag.Bool("update", false, "rewrite testdata/golden/*.yaml from the current chart")

const (
	// release and namespace are the names the golden renders (and the
	// end-to-end install) use.
	release   = "cloudop"
	namespace = "cloudop-system"
	// fieldManager owns what the tests apply.
	fieldManager = "cloudop-chart-test"
)

var (
	repoRoot string
	chartDir string
	helmBin  string
	kubectl  string
	// missingHelm and missingControlPlane say why the tests needing them
	// skip; both are fatal in CI.
	missingHelm, missingControlPlane string
	restConfig                       *rest.Config
	kube                             client.Client
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if repoRoot, err = testenv.RepoRoot(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	chartDir = filepath.Join(repoRoot, "charts", "cloudop")
	if helmBin, err = findHelm(); err != nil {
		if inCI() {
			fmt.Fprintf(os.Stderr, "CI needs helm: %v\n", err)
			return 1
		}
		missingHelm = err.Error()
	}
	assets, err := testenv.AssetsDir()
	if err != nil {
		if inCI() {
			fmt.Fprintf(os.Stderr, "CI needs the control plane: %v\n", err)
			return 1
		}
		missingControlPlane = err.Error()
		return m.Run()
	}
	kubectl = filepath.Join(assets, "kubectl")
	// The prometheus-operator CRDs let the API server validate the chart's
	// ServiceMonitor and PrometheusRule; the chart itself installs the
	// CloudOperation CRD (TestApply), so it is not preinstalled here.
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join("testdata", "prometheus-operator-crds")},
		ErrorIfCRDPathMissing: true,
	}
	if restConfig, err = env.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "starting the control plane: %v\n", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if kube, err = client.New(restConfig, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	kube = client.WithFieldValidation(kube, metav1.FieldValidationStrict)
	return m.Run()
}

func inCI() bool { return os.Getenv("CI") == "true" }

// findHelm returns $HELM (the Makefile exports it), or else the helm that
// `make tools` built under bin/helm.
func findHelm() (string, error) {
	if h := os.Getenv("HELM"); h != "" {
		if _, err := os.Stat(h); err != nil {
			return "", fmt.Errorf("HELM=%s: %w (run `make tools`)", h, err)
		}
		return h, nil
	}
	found, _ := filepath.Glob(filepath.Join(repoRoot, "bin", "helm", "*", "helm"))
	if len(found) == 0 {
		return "", errors.New("no helm: set HELM or run `make tools` to build bin/helm/<version>/helm")
	}
	return found[len(found)-1], nil
}

func needHelm(t *testing.T) {
	t.Helper()
	if missingHelm != "" {
		t.Skipf("skipping: %s (fatal in CI)", missingHelm)
	}
}

func needControlPlane(t *testing.T) {
	t.Helper()
	needHelm(t)
	if missingControlPlane != "" {
		t.Skipf("skipping: %s (fatal in CI)", missingControlPlane)
	}
}

// valueSets are the value files under testdata that the lint, golden,
// apply and drift tests render (testdata/values-<name>.yaml).
var valueSets = []string{"default", "namespaced", "metrics", "hardened", "shards", "plain"}

func valuesFile(set string) string {
	return filepath.Join("testdata", "values-"+set+".yaml")
}

// helm runs the helm binary and returns its standard output, or an error
// carrying its standard error.
func helm(args ...string) ([]byte, error) {
	cmd := exec.Command(helmBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// No repositories or plugins of the user's: the chart has no dependencies.
	cmd.Env = append(os.Environ(), "HELM_CONFIG_HOME="+os.TempDir()+"/cloudop-chart-test-helm", "HELM_CACHE_HOME="+os.TempDir()+"/cloudop-chart-test-helm")
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stderr.Bytes(), stdout.Bytes())
	}
	return stdout.Bytes(), nil
}

// render runs helm template for the release in the namespace with a values
// file.
func render(t *testing.T, releaseName, ns, values string) []byte {
	t.Helper()
	out, err := helm("template", releaseName, chartDir, "--namespace", ns, "--values", values)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// decode splits a multi-document YAML stream into objects, skipping empty
// documents.
func decode(t *testing.T, stream []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	for {
		var obj map[string]any
		if err := dec.Decode(&obj); errors.Is(err, io.EOF) {
			return objs
		} else if err != nil {
			t.Fatalf("decoding rendered YAML: %v", err)
		}
		if len(obj) == 0 {
			continue
		}
		objs = append(objs, &unstructured.Unstructured{Object: obj})
	}
}

// find returns the object of the kind and name (and namespace, unless
// empty), or nil.
func find(objs []*unstructured.Unstructured, kind, ns, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name && (ns == "" || o.GetNamespace() == ns) {
			return o
		}
	}
	return nil
}

func ofKind(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

// managerArgs returns the args of the manager container of a Deployment.
func managerArgs(t *testing.T, d *unstructured.Unstructured) []string {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		c := c.(map[string]any)
		if c["name"] != "manager" {
			continue
		}
		args, _, err := unstructured.NestedStringSlice(c, "args")
		if err != nil {
			t.Fatalf("%s: args: %v", d.GetName(), err)
		}
		return args
	}
	t.Fatalf("%s has no container named manager", d.GetName())
	return nil
}

// ensureNamespace creates a namespace unless it exists.
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(name)
	if err := kube.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(ns), client.FieldOwner(fieldManager)); err != nil {
		t.Fatalf("namespace %s: %v", name, err)
	}
}

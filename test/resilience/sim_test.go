package resilience

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"maps"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/testkit"
)

// services are the services the restart, leader and sharding tests cycle
// their operations through (and get --service-endpoint flags for), in a
// fixed order. TestFaults tries every service cloudsim simulates.
var services = []cloudsim.Service{cloudsim.BCS, cloudsim.CCE, cloudsim.AOS, cloudsim.DWS}

// newNamespace creates a namespace for one test (or one case) and a
// Secret "creds" with the given access key in it.
func newNamespace(t testing.TB, prefix, accessKey, secretKey string) string {
	t.Helper()
	return testkit.Namespace(t, k8s, prefix, testkit.CredentialsSecret("creds", accessKey, secretKey, project))
}

// The tests run in parallel (all but TestAPIServerRestart), each with
// managers of its own: every manager is confined to its test's objects,
// by namespace or, for TestFaults' many namespaces, by a label.

// watchOnly returns the flags that confine a manager to ns.
func watchOnly(ns string) []string { return []string{"--watch-namespace", ns} }

// suiteLabel marks the CloudOperations of a test whose manager selects
// them by label.
const suiteLabel = "resilience.cloudop.dev/test"

// operation describes one simulated operation and its CloudOperation.
type operation struct {
	// Name is the CloudOperation's name.
	Name string
	// Spec is the cloudsim operation (ProjectID is filled in).
	Spec cloudsim.OperationSpec
	// Endpoint is spec.endpoint ("" uses the manager's --service-endpoint).
	Endpoint string
	// Labels are the CloudOperation's labels.
	Labels map[string]string
}

// newOperation returns an operation of svc with a unique ID, the given
// scenario and step duration, and the targets each service needs.
func newOperation(name string, svc cloudsim.Service, scenario cloudsim.ScenarioKind, step time.Duration) operation {
	spec := cloudsim.OperationSpec{
		Service: svc, ID: name, ProjectID: project, Scenario: scenario,
		Params: cloudsim.Params{StepDuration: cloudsim.D(step)},
	}
	switch svc {
	case cloudsim.BCS:
		spec.BlockchainID = "chain-" + name
	case cloudsim.CCE:
		spec.ClusterID = "cluster-" + name
	case cloudsim.AOS:
		spec.StackID = "stack-" + name
	case cloudsim.DWS:
		// The action name decides DWS's steps: RESTORING has two
		// (Prepare; Restore with two sub-steps).
		spec.ID = "RESTORING"
		spec.ClusterID = "cluster-" + name
	case cloudsim.RFS:
		spec.StackName = "stack-" + name
	}
	return operation{Name: name, Spec: spec}
}

// isDBJob reports whether svc is a database service, whose jobs have no
// steps.
func isDBJob(svc cloudsim.Service) bool {
	switch svc {
	case cloudsim.RDS, cloudsim.GaussDB, cloudsim.DDS, cloudsim.GaussDBforOpenGauss, cloudsim.GaussDBforNoSQL:
		return true
	}
	return false
}

// Key is the operation's key in cloudsim (DWS: cluster/action).
func (o operation) Key() string { return o.Spec.Key() }

// object returns the CloudOperation for o in ns.
func (o operation) object(ns string) *opsv1.CloudOperation {
	return &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: o.Name, Labels: maps.Clone(o.Labels)},
		Spec: opsv1.CloudOperationSpec{
			Service: opsv1.Service(o.Spec.Service), Region: "cn-north-4", OperationID: o.Spec.ID,
			OperationType: opsv1.OperationType(o.Spec.Type),
			ClusterID:     o.Spec.ClusterID, StackID: o.Spec.StackID, StackName: o.Spec.StackName, BlockchainID: o.Spec.BlockchainID,
			CredentialsSecretRef: opsv1.SecretReference{Name: "creds"},
			PollInterval:         &metav1.Duration{Duration: pollInterval},
			Endpoint:             o.Endpoint,
		},
	}
}

// wantPhase is the terminal phase o's scenario ends in.
func (o operation) wantPhase() opsv1.Phase {
	if o.Spec.Scenario == cloudsim.ScenarioFail {
		return opsv1.PhaseFailed
	}
	return opsv1.PhaseSucceeded
}

// wantSteps is the number of top-level steps the operation reports: its
// explicit steps, or each service's defaults (a database job has none; a
// classic or CCE job's are its two sub-jobs; an RFS deployment's the
// resources it got to, the third never when the second fails).
func (o operation) wantSteps() int {
	if len(o.Spec.Steps) > 0 {
		return len(o.Spec.Steps)
	}
	switch svc := o.Spec.Service; {
	case isDBJob(svc):
		return 0
	case svc == cloudsim.CCE && o.Spec.Type == cloudsim.TypeJob:
		return 2
	case svc == cloudsim.CCE:
		return 4
	case svc == cloudsim.DWS, svc == cloudsim.ECS, svc == cloudsim.EVS, svc == cloudsim.IMS, svc == cloudsim.BMS, svc == cloudsim.VPC:
		return 2
	case svc == cloudsim.RFS && o.Spec.Scenario == cloudsim.ScenarioFail:
		return 2
	}
	return 3
}

// start adds o to sim and creates its CloudOperation at once, so the
// operation and the object begin together.
func (o operation) start(ctx context.Context, sim *cloudsim.Simulator, ns string) error {
	if err := sim.AddOperation(o.Spec); err != nil {
		return err
	}
	return k8s.Create(ctx, o.object(ns))
}

// checkTerminal returns what is wrong with the final status of o, or "".
func (o operation) checkTerminal(obj *opsv1.CloudOperation) []string {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if obj.Status.Phase != o.wantPhase() {
		add("phase %s, want %s", obj.Status.Phase, o.wantPhase())
	}
	if len(obj.Status.Steps) != o.wantSteps() {
		add("%d steps, want %d", len(obj.Status.Steps), o.wantSteps())
	}
	switch o.wantPhase() {
	case opsv1.PhaseSucceeded:
		if !obj.IsReady() {
			add("not Ready")
		}
		for _, s := range obj.Status.Steps {
			if s.Phase != opsv1.PhaseSucceeded {
				add("step %s is %s", s.Name, s.Phase)
			}
		}
	case opsv1.PhaseFailed:
		if !obj.IsStalled() {
			add("not Stalled")
		}
		failed, want := 0, 1
		for _, s := range obj.Status.Steps {
			if s.Phase == opsv1.PhaseFailed {
				failed++
			}
		}
		if o.wantSteps() == 0 {
			want = 0
		}
		if failed != want {
			add("%d failed steps, want %d", failed, want)
		}
	}
	return problems
}

// simServer serves a simulator over plain HTTP until the test ends.
func simServer(t testing.TB, sim *cloudsim.Simulator) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(sim.Handler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// endpointFlags returns --service-endpoint SERVICE=url for every service.
func endpointFlags(url string) []string {
	var args []string
	for _, svc := range services {
		args = append(args, "--service-endpoint", string(svc)+"="+url)
	}
	return args
}

// tlsServer serves a simulator over HTTPS with a certificate cloudop does
// not trust until Trust is called: then it presents one signed by the CA
// the manager was told to trust (SSL_CERT_FILE).
type tlsServer struct {
	// URL is the server's https:// base URL.
	URL string

	failedHandshakes atomic.Int64 // from the server's error log
	trusted          atomic.Bool
}

// Trust switches to the trusted certificate for new connections.
func (s *tlsServer) Trust() { s.trusted.Store(true) }

// FailedHandshakes is how many handshakes the clients aborted.
func (s *tlsServer) FailedHandshakes() int64 { return s.failedHandshakes.Load() }

// Write receives the server's error log and counts the failed
// handshakes in it.
func (s *tlsServer) Write(p []byte) (int, error) {
	if strings.Contains(string(p), "TLS handshake error") {
		s.failedHandshakes.Add(1)
	}
	return len(p), nil
}

// newTLSServer starts an HTTPS simulator server until the test ends.
func newTLSServer(t testing.TB, sim *cloudsim.Simulator, pki *testPKI) *tlsServer {
	t.Helper()
	s := &tlsServer{}
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			if s.trusted.Load() {
				return &pki.trustedLeaf, nil
			}
			return &pki.untrustedLeaf, nil
		},
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: sim.Handler(), ErrorLog: log.New(s, "", 0), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(tls.NewListener(ln, cfg)) }()
	t.Cleanup(func() { _ = srv.Close() })
	s.URL = "https://" + ln.Addr().String()
	return s
}

// testPKI holds a CA the manager trusts (CAPEM, given to it through
// SSL_CERT_FILE) and two server certificates for 127.0.0.1: one signed by
// that CA, one self-signed and trusted by nobody.
type testPKI struct {
	CAPEM         []byte
	trustedLeaf   tls.Certificate
	untrustedLeaf tls.Certificate
}

func newTestPKI(t testing.TB) *testPKI {
	t.Helper()
	caKey, caCert, caDER := selfSigned(t, "resilience trusted CA", true)
	trusted := leafCert(t, caCert, caKey)
	uKey, _, uDER := selfSigned(t, "127.0.0.1", false)
	return &testPKI{
		CAPEM:         pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		trustedLeaf:   trusted,
		untrustedLeaf: tls.Certificate{Certificate: [][]byte{uDER}, PrivateKey: uKey},
	}
}

func certTemplate(cn string, ca bool) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	if ca {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
		tmpl.ExtKeyUsage, tmpl.IPAddresses = nil, nil
	}
	return tmpl
}

func selfSigned(t testing.TB, cn string, ca bool) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := certTemplate(cn, ca)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func leafCert(t testing.TB, ca *x509.Certificate, caKey *ecdsa.PrivateKey) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, certTemplate("127.0.0.1", false), ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

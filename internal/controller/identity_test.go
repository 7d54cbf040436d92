package controller

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	testingclock "k8s.io/utils/clock/testing"
	"sigs.k8s.io/controller-runtime/pkg/client"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloud/identity"
	"github.com/cloudop/cloudop/internal/cloudsim"
)

const (
	identityIdp      = "cce-envtest"
	identityAudience = "cloudop-test"
	teamAccessKey    = "TEAMAACCESSKEY000001"
	teamProject      = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	clusterID        = "b4b9e60f-8aa2-11ee-af09-0255ac10004f"

	// identityClockLead is how far the identity tests' clock starts ahead
	// of real time. The API server stamps ServiceAccount tokens (iat, nbf,
	// exp) with real time and IAM checks them against the test's clock:
	// ahead by more than a test takes, a token minted during the test is
	// never issued in IAM's future.
	identityClockLead = 5 * time.Minute
	// identityTokenLifetime is the ServiceAccount tokens' lifetime in these
	// tests: long enough to cover the lead and every step a test takes
	// (the production default, 10 min, assumes the token is exchanged
	// right away in real time; here the clock IAM reads runs ahead of the
	// API server's by the steps). IAM still checks exp, against the
	// test's clock.
	identityTokenLifetime = 2 * time.Hour
)

// identityEnv is cloudsim as cloud and IAM over real HTTP, trusting the
// envtest API server's service-account issuer, and an identity provider
// whose TokenRequests and IAM exchanges are counted and captured.
type identityEnv struct {
	sim      *cloudsim.Simulator
	srv      *httptest.Server
	tokens   *countingTokens
	captured *captureTransport
	provider *identity.Provider
	// clock is the time of everyone on the credentials' path but the API
	// server: the identity provider, the exchanger, cloudsim (IAM and
	// the cloud), the request signer and the reconciler.
	clock *testingclock.FakeClock
	// issuer and signingKey are the API server's service-account issuer
	// and its JWKS, uploaded to cloudsim's identity provider.
	issuer, signingKey string
}

// newIdentityEnv starts cloudsim with team-a's account and an identity
// provider (no mapping yet: tests add theirs for their namespaces).
func newIdentityEnv(t *testing.T, lifetime time.Duration) *identityEnv {
	t.Helper()
	g := NewWithT(t)
	clk := testingclock.NewFakeClock(time.Now().Add(identityClockLead).Truncate(time.Second))
	sim, err := cloudsim.New(cloudsim.Config{
		Accounts: []cloudsim.Account{{AccessKey: teamAccessKey, SecretKey: "team-a-secret", ProjectIDs: []string{teamProject}}},
		Settings: cloudsim.Settings{TemporaryCredentialLifetime: cloudsim.D(lifetime), StepDuration: cloudsim.D(time.Hour)},
	}, cloudsim.WithClock(clk.Now))
	g.Expect(err).NotTo(HaveOccurred())
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	env := &identityEnv{sim: sim, srv: srv, clock: clk, tokens: &countingTokens{c: k8s}, captured: &captureTransport{next: http.DefaultTransport}}
	env.issuer, env.signingKey = readIssuer(t)
	env.provider = &identity.Provider{
		Reader:            k8s,
		Tokens:            env.tokens,
		Exchanger:         &identity.Exchanger{Endpoint: srv.URL, Client: &http.Client{Transport: env.captured}, Now: clk.Now},
		Audience:          identityAudience,
		TokenLifetime:     identityTokenLifetime,
		ServiceAccountTTL: -1,
		Now:               clk.Now,
	}
	return env
}

// readIssuer reads the envtest API server's service-account issuer and
// its public keys, as an admin does before creating IAM's identity
// provider (IAM never fetches them itself).
func readIssuer(t *testing.T) (issuer, jwks string) {
	t.Helper()
	g := NewWithT(t)
	dc, err := discovery.NewDiscoveryClientForConfig(restConfig)
	g.Expect(err).NotTo(HaveOccurred())
	raw, err := dc.RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	var doc struct {
		Issuer string `json:"issuer"`
	}
	g.Expect(json.Unmarshal(raw, &doc)).To(Succeed())
	g.Expect(doc.Issuer).NotTo(BeEmpty())
	keys, err := dc.RESTClient().Get().AbsPath("/openid/v1/jwks").DoRaw(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	return doc.Issuer, string(keys)
}

// trust registers the identity provider, with the API server's keys
// uploaded, mapping the given subjects to team-a's account.
func (e *identityEnv) trust(t *testing.T, subjects ...string) {
	t.Helper()
	idp := cloudsim.IdentityProvider{ID: identityIdp, Issuer: e.issuer, Audience: identityAudience, SigningKey: e.signingKey}
	for _, s := range subjects {
		idp.Mappings = append(idp.Mappings, cloudsim.IdentityMapping{Subject: s, AccessKey: teamAccessKey})
	}
	NewWithT(t).Expect(e.sim.AddIdentityProvider(idp)).To(Succeed())
}

// reconciler polls cloudsim through the real adapters with workload
// identity, on the env's clock.
func (e *identityEnv) reconciler() *CloudOperationReconciler {
	r := newTestReconcilerOn(realRouter(e.srv.URL, e.clock.Now), e.clock)
	r.Identity = e.provider
	return r
}

// operation adds a long-running CCE upgrade to cloudsim and creates a
// CloudOperation for it signed by serviceAccount.
func (e *identityEnv) operation(t *testing.T, ns, name, serviceAccount string) *opsv1.CloudOperation {
	t.Helper()
	g := NewWithT(t)
	id := ns + "-" + name
	g.Expect(e.sim.AddOperation(cloudsim.OperationSpec{Service: cloudsim.CCE, ID: id, ProjectID: teamProject, ClusterID: clusterID})).To(Succeed())
	obj := &opsv1.CloudOperation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: opsv1.CloudOperationSpec{Service: opsv1.ServiceCCE, Region: "cn-north-4", OperationID: id, ClusterID: clusterID,
			ServiceAccountName: serviceAccount},
	}
	g.Expect(k8s.Create(context.Background(), obj)).To(Succeed())
	return obj
}

// newServiceAccount creates a ServiceAccount with the given annotations.
func newServiceAccount(t *testing.T, ns, name string, annotations map[string]string) {
	t.Helper()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: annotations}}
	NewWithT(t).Expect(k8s.Create(context.Background(), sa)).To(Succeed())
}

func identityAnnotations() map[string]string {
	return map[string]string{opsv1.AnnotationIdentityProviderID: identityIdp, opsv1.AnnotationIdentityProjectID: teamProject}
}

func subject(ns, name string) string { return "system:serviceaccount:" + ns + ":" + name }

// countingTokens counts (and keeps) the ServiceAccount tokens minted.
type countingTokens struct {
	c      client.Client
	n      atomic.Int32
	mu     sync.Mutex
	minted []string
}

func (t *countingTokens) SubResource(name string) client.SubResourceClient {
	return countingSubResource{SubResourceClient: t.c.SubResource(name), t: t}
}

type countingSubResource struct {
	client.SubResourceClient
	t *countingTokens
}

func (c countingSubResource) Create(ctx context.Context, obj, sub client.Object, opts ...client.SubResourceCreateOption) error {
	c.t.n.Add(1)
	err := c.SubResourceClient.Create(ctx, obj, sub, opts...)
	if tr, ok := sub.(*authenticationv1.TokenRequest); ok && err == nil {
		c.t.mu.Lock()
		c.t.minted = append(c.t.minted, tr.Status.Token)
		c.t.mu.Unlock()
	}
	return err
}

// captureTransport keeps every secret IAM hands out: the IAM token and
// the temporary credentials.
type captureTransport struct {
	next    http.RoundTripper
	mu      sync.Mutex
	secrets []string
}

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	var out struct {
		Credential map[string]string `json:"credential"`
	}
	_ = json.Unmarshal(body, &out)
	c.mu.Lock()
	defer c.mu.Unlock()
	if tok := resp.Header.Get("X-Subject-Token"); tok != "" {
		c.secrets = append(c.secrets, tok)
	}
	for _, k := range []string{"secret", "securitytoken"} {
		if v := out.Credential[k]; v != "" {
			c.secrets = append(c.secrets, v)
		}
	}
	return resp, nil
}

// assertNoIdentityLeaks: no minted token, IAM token, secret key or
// security token appears in the objects' status or the namespace's events.
func (e *identityEnv) assertNoIdentityLeaks(t *testing.T, namespaces ...string) {
	t.Helper()
	g := NewWithT(t)
	e.tokens.mu.Lock()
	secrets := append([]string(nil), e.tokens.minted...)
	e.tokens.mu.Unlock()
	e.captured.mu.Lock()
	secrets = append(secrets, e.captured.secrets...)
	e.captured.mu.Unlock()
	g.Expect(secrets).NotTo(BeEmpty(), "nothing was minted or issued: the leak check would prove nothing")
	var haystack []string
	for _, ns := range namespaces {
		var list opsv1.CloudOperationList
		g.Expect(k8s.List(context.Background(), &list, client.InNamespace(ns))).To(Succeed())
		for _, o := range list.Items {
			b, _ := json.Marshal(o.Status)
			haystack = append(haystack, string(b))
		}
		haystack = append(haystack, namespaceEvents(t, ns)...)
	}
	all := strings.Join(haystack, "\n")
	// Only their lengths are reported: a failure must not print them.
	var leaked []int
	for _, s := range secrets {
		if strings.Contains(all, s) {
			leaked = append(leaked, len(s))
		}
	}
	g.Expect(leaked).To(BeEmpty(), "tokens or keys of these lengths appear in status or events")
}

// TestWorkloadIdentityPerNamespace: team-a's operation is tracked with
// team-a's ServiceAccount only (cloudsim's log shows who signed each
// call); team-b's ServiceAccount, which IAM maps to nothing, gets
// IdentityRejected and no call is signed for it by anyone; a missing or
// unannotated ServiceAccount gets IdentityInvalid.
func TestWorkloadIdentityPerNamespace(t *testing.T) {
	g := NewWithT(t)
	e := newIdentityEnv(t, 15*time.Minute)
	teamA, teamB := newNamespace(t), newNamespace(t)
	e.trust(t, subject(teamA, "ops"))
	newServiceAccount(t, teamA, "ops", identityAnnotations())
	newServiceAccount(t, teamB, "ops", identityAnnotations())
	newServiceAccount(t, teamB, "bare", nil)
	// team-b also has a Secret with team-a's real key: naming a
	// ServiceAccount must never fall back to it.
	newSecret(t, teamB, "creds", map[string]string{"accessKey": teamAccessKey, "secretKey": "team-a-secret", "projectID": teamProject})
	r := e.reconciler()

	a := e.operation(t, teamA, "upgrade", "ops")
	reconcileOnce(t, r, a)
	reconcileOnce(t, r, a)
	got := fetch(t, a)
	g.Expect(got.Status.Phase).To(Equal(opsv1.PhaseRunning), got.Status.Message)
	g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/InProgress"))

	requests := e.sim.Requests()
	g.Expect(requests).To(HaveLen(2), "one signed call per poll")
	for _, req := range requests {
		g.Expect(req.Principal).To(Equal(subject(teamA, "ops")), "call %s signed by someone else", req.Path)
		g.Expect(req.Temporary).To(BeTrue())
		g.Expect(req.Status).To(Equal(http.StatusOK))
	}

	e.sim.ResetCounts()
	for _, tc := range []struct {
		name, serviceAccount, reason, says string
	}{
		{"rejected", "ops", opsv1.ReasonIdentityRejected, "No mapping rule"},
		{"missing", "nobody", opsv1.ReasonIdentityInvalid, `ServiceAccount "nobody" not found`},
		{"unannotated", "bare", opsv1.ReasonIdentityInvalid, opsv1.AnnotationIdentityProviderID},
	} {
		b := e.operation(t, teamB, tc.name, tc.serviceAccount)
		reconcileOnce(t, r, b)
		got := fetch(t, b)
		g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/"+tc.reason), "%s: %s", tc.name, got.Status.Message)
		g.Expect(got.GetCondition(opsv1.ConditionReady).Message).To(ContainSubstring(tc.says), tc.name)
	}
	counts := e.sim.Counts()
	g.Expect(counts.Total.Total).To(BeZero(), "team-b's operations reached the cloud: %+v", counts.Principals)
	g.Expect(counts.IAM[cloudsim.IAMCreateTokenWithIDToken].ByStatus[http.StatusForbidden]).To(Equal(1), "IAM was asked once, for the annotated ServiceAccount")
	g.Expect(counts.IAM[cloudsim.IAMCreateTemporaryAccessKey].Total).To(BeZero())

	e.assertNoIdentityLeaks(t, teamA, teamB)
}

// TestWorkloadIdentityRefreshAndOutage: credentials that expire during the
// operation are refreshed ahead without a failed poll; an IAM outage while
// they are still valid costs nothing, and one when they are gone shows as
// IdentityUnavailable (transient) and recovers. Time is the env's fake
// clock, stepped between polls.
func TestWorkloadIdentityRefreshAndOutage(t *testing.T) {
	g := NewWithT(t)
	// IAM's shortest: refreshed when half is left, usable until 30 s are.
	const lifetime = 15 * time.Minute
	e := newIdentityEnv(t, lifetime)
	ns := newNamespace(t)
	e.trust(t, subject(ns, "ops"))
	newServiceAccount(t, ns, "ops", identityAnnotations())
	r := e.reconciler()
	obj := e.operation(t, ns, "upgrade", "ops")

	// Poll every lifetime/12 for two lifetimes: each poll must succeed.
	polls := 0
	for elapsed := time.Duration(0); elapsed < 2*lifetime; elapsed += lifetime / 12 {
		reconcileOnce(t, r, obj)
		polls++
		got := fetch(t, obj)
		g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/InProgress"), "poll %d: %s", polls, got.Status.Message)
		e.clock.Step(lifetime / 12)
	}
	counts := e.sim.Counts()
	g.Expect(counts.Services[cloudsim.CCE].ByStatus[http.StatusOK]).To(Equal(polls), "every poll answered 200: %+v", counts.Services[cloudsim.CCE])
	exchanges := counts.IAM[cloudsim.IAMCreateTemporaryAccessKey].ByStatus[http.StatusCreated]
	g.Expect(exchanges).To(BeNumerically(">=", 3), "credentials were refreshed")
	g.Expect(int(e.tokens.n.Load())).To(Equal(exchanges), "one TokenRequest per exchange")

	// IAM down when a refresh is due but the credentials are still valid
	// (fresh ones, past the half of their lifetime): they carry on.
	e.provider.Forget(identity.Key{ServiceAccount: client.ObjectKey{Namespace: ns, Name: "ops"}, IdentityProvider: identityIdp, Region: "cn-north-4"})
	reconcileOnce(t, r, obj)
	g.Expect(e.sim.SetIAMFaults(cloudsim.Fault{Kind: cloudsim.FaultError500})).To(Succeed())
	e.clock.Step(lifetime/2 + lifetime/8)
	reconcileOnce(t, r, obj)
	g.Expect(e.sim.Counts().IAM[cloudsim.IAMCreateTokenWithIDToken].ByStatus[http.StatusInternalServerError]).To(Equal(1), "a refresh was attempted")
	g.Expect(conditionReason(fetch(t, obj), opsv1.ConditionReady)).To(Equal("False/InProgress"), "a failed refresh with valid credentials failed the poll")

	// Still down once they have expired: a transient reason, retried.
	e.clock.Step(lifetime)
	res := reconcileOnce(t, r, obj)
	got := fetch(t, obj)
	g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/"+opsv1.ReasonIdentityUnavailable), got.Status.Message)
	g.Expect(conditionReason(got, opsv1.ConditionStalled)).To(Equal("<absent>"))
	g.Expect(conditionReason(got, opsv1.ConditionReconciling)).To(Equal("True/" + opsv1.ReasonIdentityUnavailable))
	g.Expect(res.RequeueAfter).To(BeNumerically(">", 0), "retried")

	// IAM back: the next poll, when the reconciler asked to come back,
	// recovers.
	g.Expect(e.sim.SetIAMFaults()).To(Succeed())
	e.clock.Step(res.RequeueAfter)
	reconcileOnce(t, r, obj)
	g.Expect(conditionReason(fetch(t, obj), opsv1.ConditionReady)).To(Equal("False/InProgress"))
	g.Expect(e.sim.Counts().Services[cloudsim.CCE].ByStatus[http.StatusUnauthorized]).To(BeZero(), "no call was signed with expired credentials")

	e.assertNoIdentityLeaks(t, ns)
}

// TestWorkloadIdentitySharedServiceAccount: many operations polled at once
// under one ServiceAccount cost one TokenRequest and one exchange.
func TestWorkloadIdentitySharedServiceAccount(t *testing.T) {
	g := NewWithT(t)
	e := newIdentityEnv(t, 15*time.Minute)
	ns := newNamespace(t)
	e.trust(t, subject(ns, "ops"))
	newServiceAccount(t, ns, "ops", identityAnnotations())
	r := e.reconciler()
	const n = 12
	objs := make([]*opsv1.CloudOperation, n)
	for i := range objs {
		objs[i] = e.operation(t, ns, "op-"+string(rune('a'+i)), "ops")
	}
	for round := 0; round < 2; round++ {
		var wg sync.WaitGroup
		for _, obj := range objs {
			wg.Go(func() { reconcileOnce(t, r, obj) })
		}
		wg.Wait()
	}
	for _, obj := range objs {
		got := fetch(t, obj)
		g.Expect(got.Status.Phase).To(Equal(opsv1.PhaseRunning), "%s: %s", obj.Name, got.Status.Message)
	}
	counts := e.sim.Counts()
	g.Expect(e.tokens.n.Load()).To(Equal(int32(1)), "TokenRequests")
	g.Expect(counts.IAM[cloudsim.IAMCreateTokenWithIDToken].Total).To(Equal(1), "CreateTokenWithIdToken calls")
	g.Expect(counts.IAM[cloudsim.IAMCreateTemporaryAccessKey].Total).To(Equal(1), "CreateTemporaryAccessKeyByToken calls")
	g.Expect(counts.Principals[subject(ns, "ops")].ByStatus[http.StatusOK]).To(Equal(2 * n))
}

// TestWorkloadIdentityDisabled: a manager without workload identity
// refuses objects naming a ServiceAccount with a clear reason and calls
// nobody.
func TestWorkloadIdentityDisabled(t *testing.T) {
	g := NewWithT(t)
	e := newIdentityEnv(t, 15*time.Minute)
	ns := newNamespace(t)
	r := e.reconciler()
	r.Identity = nil
	obj := e.operation(t, ns, "upgrade", "ops")
	reconcileOnce(t, r, obj)
	got := fetch(t, obj)
	g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/" + opsv1.ReasonIdentityInvalid))
	g.Expect(got.Status.Message).To(ContainSubstring("not enabled"))
	g.Expect(e.sim.Counts().Total.Total).To(BeZero())
}

// TestManagerIdentity: an object naming neither a Secret nor a
// ServiceAccount is refused with CredentialsInvalid and no cloud call
// while the manager lends no identity (the default, and what a
// multi-tenant install keeps), and is signed by the manager's own
// ServiceAccount when the install enables --manager-identity.
func TestManagerIdentity(t *testing.T) {
	g := NewWithT(t)
	e := newIdentityEnv(t, 15*time.Minute)
	system, tenant := newNamespace(t), newNamespace(t)
	e.trust(t, subject(system, "cloudop-manager"))
	newServiceAccount(t, system, "cloudop-manager", identityAnnotations())
	obj := e.operation(t, tenant, "upgrade", "")

	refusing := e.reconciler()
	reconcileOnce(t, refusing, obj)
	got := fetch(t, obj)
	g.Expect(conditionReason(got, opsv1.ConditionReady)).To(Equal("False/" + opsv1.ReasonCredentialsInvalid))
	g.Expect(got.Status.Message).To(ContainSubstring("--manager-identity"))
	g.Expect(e.sim.Counts().Total.Total).To(BeZero(), "a refused object reached the cloud")

	lending := e.reconciler()
	lending.ManagerIdentity = &types.NamespacedName{Namespace: system, Name: "cloudop-manager"}
	reconcileOnce(t, lending, obj)
	got = fetch(t, obj)
	g.Expect(got.Status.Phase).To(Equal(opsv1.PhaseRunning), got.Status.Message)
	requests := e.sim.Requests()
	g.Expect(requests).NotTo(BeEmpty())
	for _, req := range requests {
		g.Expect(req.Principal).To(Equal(subject(system, "cloudop-manager")), "call %s signed by someone else", req.Path)
	}
}

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	opsv1 "github.com/cloudop/cloudop/api/v1alpha1"
	"github.com/cloudop/cloudop/internal/cloudsim"
	"github.com/cloudop/cloudop/internal/testkit"
)

const wrongSecretKey = "wrong-secret-value-4b1d"

// TestWrongSecretIsReportedAndFixingItRecovers: cloudsim rejects a request
// signed with the wrong secret; the CloudOperation says so with a clear
// reason; fixing the Secret recovers it without a restart.
func TestWrongSecretIsReportedAndFixingItRecovers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ns := testkit.Namespace(t, env.Client, "e2e", testkit.CredentialsSecret("creds", accessKey, wrongSecretKey, project))
	obj := simOperation(t, ns, "stack", cloudsim.OperationSpec{Service: cloudsim.AOS, ID: "auth-stack-action", StackID: "auth-stack"})
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 30*time.Second, "AuthFailed", func() (bool, string) {
		o := get(t, ns, "stack")
		c := o.GetCondition(opsv1.ConditionReady)
		return c != nil && c.Reason == opsv1.ReasonAuthFailed && strings.Contains(c.Message, "APIGW.0301"), describe(o)
	})
	if n := env.Sim.Counts().Operations[cloudsim.AOS]["auth-stack-action"].ByStatus[401]; n == 0 {
		t.Errorf("cloudsim did not reject a request: %+v", env.Sim.Counts().Operations[cloudsim.AOS]["auth-stack-action"])
	}

	secret := &corev1.Secret{}
	if err := env.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: "creds"}, secret); err != nil {
		t.Fatal(err)
	}
	secret.Data["secretKey"] = []byte(secretKey)
	if err := env.Client.Update(ctx, secret); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 90*time.Second, "recovery to Succeeded", func() (bool, string) {
		o := get(t, ns, "stack")
		return o.Status.Phase == opsv1.PhaseSucceeded && o.IsReady(), describe(o)
	})

	assertNoSecretLeaks(t, "APIGW.0301", secretKey, wrongSecretKey)
}

// maxVerbosity is the manager's log verbosity in these tests: the highest
// client-go knows (V10 dumps whole bodies).
const maxVerbosity = 10

// assertNoSecretLeaks looks for secret values in everything cloudop
// writes: status, events, its V10 logs and its metrics. The logs must show
// logged (the failure under test), or the check would prove nothing.
func assertNoSecretLeaks(t *testing.T, logged string, secrets ...string) {
	t.Helper()
	if !strings.Contains(managerLog.String(), logged) {
		t.Fatalf("the manager log does not show %s; the leak check would prove nothing", logged)
	}
	if len(secrets) == 0 {
		t.Fatal("no secrets to look for")
	}
	leaks, err := findLeaks(secrets)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range leaks {
		t.Error(l)
	}
}

// leakSweep runs after every test: each secret of the run (the Secrets'
// keys, and every ServiceAccount token, IAM token, secret key and security
// token that went through cloudsim's IAM) is looked for in everything the
// manager wrote. The log must hold client-go's body dumps (proof that V10
// was in force) and IAM must have issued something (proof that workload
// identity ran), or the sweep would prove nothing.
func leakSweep() error {
	logs := managerLog.String()
	if !strings.Contains(logs, "Response Body") {
		return errors.New("the manager log holds no client-go body dump: it did not run at V10, so the sweep would prove nothing")
	}
	issued := env.Sim.IssuedSecrets()
	if len(issued) == 0 {
		return errors.New("cloudsim's IAM issued nothing: no workload identity ran, so the sweep would prove nothing")
	}
	leaks, err := findLeaks(append(issued, secretKey, wrongSecretKey))
	if err != nil {
		return err
	}
	if len(leaks) > 0 {
		return errors.New(strings.Join(leaks, "\n"))
	}
	fmt.Printf("leak sweep: %d secrets of the run, none in status, events, %d bytes of V10 logs or metrics\n", len(issued)+2, len(logs))
	return nil
}

// findLeaks returns one line per secret found in status, events, the
// manager's log or its metrics; the line shows only a prefix of it.
func findLeaks(secrets []string) ([]string, error) {
	ctx := context.Background()
	var haystacks []string
	var ops opsv1.CloudOperationList
	if err := env.Client.List(ctx, &ops); err != nil {
		return nil, err
	}
	for _, o := range ops.Items {
		haystacks = append(haystacks, describe(&o))
		for _, s := range o.Status.Steps {
			haystacks = append(haystacks, s.Message)
		}
	}
	var events eventsv1.EventList
	if err := env.Client.List(ctx, &events); err != nil {
		return nil, err
	}
	for _, e := range events.Items {
		haystacks = append(haystacks, e.Note, e.Reason)
	}
	logs := managerLog.String()
	// client-go hex-dumps binary (protobuf) bodies, such as a Secret's:
	// a value there is split across dump lines, so look in the decoded
	// bytes too.
	haystacks = append(haystacks, logs)
	haystacks = append(haystacks, decodedBodyDumps(logs)...)
	families, err := metrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	for _, f := range families {
		haystacks = append(haystacks, f.String())
	}
	all := strings.Join(haystacks, "\n")
	var leaks []string
	for _, secret := range secrets {
		if secret == "" {
			continue
		}
		// As written, and base64-encoded as a Secret's data is in JSON.
		for _, form := range []string{secret, base64.StdEncoding.EncodeToString([]byte(secret))} {
			if strings.Contains(all, form) {
				leaks = append(leaks, fmt.Sprintf("secret value %q found in status, events, logs or metrics", secret[:min(len(secret), 12)]+"…"))
				break
			}
		}
	}
	return leaks, nil
}

// decodedBodyDumps returns the bytes of every hex-dumped body (client-go's
// "Response Body"/"Request Body" lines for binary content) in a JSON log.
func decodedBodyDumps(logs string) []string {
	var out []string
	for _, line := range strings.Split(logs, "\n") {
		if !strings.Contains(line, `"body":"00000000  `) {
			continue
		}
		var entry struct {
			Body string `json:"body"`
		}
		if json.Unmarshal([]byte(line), &entry) != nil {
			continue
		}
		var raw []byte
		for _, dumpLine := range strings.Split(entry.Body, "\n") {
			// "00000000  6b 38 73 00 ...  |k8s...|": the offset, then hex
			// byte pairs up to the ASCII column.
			fields := strings.Fields(strings.SplitN(dumpLine, "|", 2)[0])
			for _, f := range fields[min(1, len(fields)):] {
				if b, err := hex.DecodeString(f); err == nil && len(b) == 1 {
					raw = append(raw, b[0])
				}
			}
		}
		out = append(out, string(raw))
	}
	return out
}

// TestDecodedBodyDumps: the sweep reads hex-dumped bodies back into their
// bytes, so a value split across dump lines is still found.
func TestDecodedBodyDumps(t *testing.T) {
	secret := "a-secret-longer-than-one-dump-line"
	body := append([]byte("k8s\x00\x0a\x0cSecret"), secret...)
	line, err := json.Marshal(map[string]string{"msg": "Response Body", "body": hex.Dump(body)})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(line), secret) {
		t.Fatal("the dump should split the value")
	}
	got := decodedBodyDumps("{\"msg\":\"other\"}\n" + string(line) + "\n")
	if len(got) != 1 || got[0] != string(body) {
		t.Errorf("decoded %q, want %q", got, body)
	}
}

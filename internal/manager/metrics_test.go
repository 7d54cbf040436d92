package manager

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	certutil "k8s.io/client-go/util/cert"

	"github.com/cloudop/cloudop/internal/testenv"
	"github.com/cloudop/cloudop/internal/testkit"
)

// TestMetricsOptions: plain HTTP unless asked; secure serving filters
// with TokenReview and SubjectAccessReview; a cert dir must hold the
// certificate and key and is refused with plain HTTP.
func TestMetricsOptions(t *testing.T) {
	full := t.TempDir()
	for _, name := range []string{metricsCertName, metricsKeyName} {
		if err := os.WriteFile(filepath.Join(full, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	keyOnly := t.TempDir()
	if err := os.WriteFile(filepath.Join(keyOnly, metricsKeyName), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		addr    string
		secure  bool
		certDir string
		wantErr string
	}{
		{name: "plain", addr: ":8080"},
		{name: "disabled", addr: ""},
		{name: "secure self-signed", addr: ":8443", secure: true},
		{name: "secure with certs", addr: ":8443", secure: true, certDir: full},
		{name: "cert dir without secure", addr: ":8080", certDir: full, wantErr: "plain HTTP"},
		{name: "no certificate", addr: ":8443", secure: true, certDir: keyOnly, wantErr: metricsCertName},
		{name: "no directory", addr: ":8443", secure: true, certDir: filepath.Join(full, "missing"), wantErr: "missing"},
	} {
		o, err := metricsOptions(tc.addr, tc.secure, tc.certDir)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if o.BindAddress != defaultString(tc.addr, "0") || o.SecureServing != tc.secure || (o.FilterProvider != nil) != tc.secure || o.CertDir != tc.certDir {
			t.Errorf("%s: %+v", tc.name, o)
		}
	}
}

// TestSecureMetrics runs a manager as a ServiceAccount bound to the
// generated ClusterRole (config/rbac/role.yaml) with secure metrics and a
// certificate from --metrics-cert-dir: no token gets 401, a token without
// get on /metrics 403, the metrics-reader's token 200 with the metrics;
// every answer comes over HTTP/1.1, never HTTP/2.
// A manager without a cert dir serves a self-signed certificate; one with
// MetricsSecure false plain HTTP to anyone.
func TestSecureMetrics(t *testing.T) {
	system := testkit.Namespace(t, k8s, "cloudop-system")
	managerRole := generatedClusterRole(t)
	create(t, managerRole)
	create(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{GenerateName: "cloudop-manager-"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: managerRole.Name},
		Subjects: subject(system, "cloudop-manager")})
	managerToken := serviceAccount(t, system, "cloudop-manager")
	reader := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{GenerateName: "cloudop-metrics-reader-"},
		Rules: []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}}
	create(t, reader)
	create(t, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{GenerateName: "cloudop-metrics-reader-"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects: subject(system, "prometheus")})
	readerToken := serviceAccount(t, system, "prometheus")
	wrongAudience := audienceToken(t, system, "prometheus", "cloudop")
	strangerToken := serviceAccount(t, system, "stranger")

	certDir, roots := servingCert(t)
	addr := startMetricsManager(t, managerToken, Options{MetricsSecure: true, MetricsCertDir: certDir})
	// The client offers HTTP/2; the server must answer in HTTP/1.1.
	verified := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}}
	url := "https://" + addr + "/metrics"
	waitServing(t, verified, url)
	_, logStart := managerLog.Since(0)
	for _, tc := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", http.StatusUnauthorized},
		// A token the API server cannot verify is unauthenticated (401),
		// not a server error (controller-runtime's filter answers 500).
		{"invalid token", "not-a-token", http.StatusUnauthorized},
		{"a reader's token for another audience", wrongAudience, http.StatusUnauthorized},
		{"token without get /metrics", strangerToken, http.StatusForbidden},
		{"metrics-reader token", readerToken, http.StatusOK},
	} {
		code, body := scrape(t, verified, url, tc.token)
		if code != tc.want {
			t.Errorf("%s: %d, want %d: %s", tc.name, code, tc.want, body)
		}
		if has := strings.Contains(body, "cloudop_build_info"); has != (tc.want == http.StatusOK) {
			t.Errorf("%s: metrics served: %v", tc.name, has)
		}
	}

	if logged, _ := managerLog.Since(logStart); strings.Contains(logged, "stacktrace") || strings.Contains(logged, "Authentication failed") {
		t.Errorf("refused scrapes logged an error with a stack trace:\n%.2000s", logged)
	}

	if resp, err := verified.Get(url); err != nil {
		t.Error(err)
	} else {
		resp.Body.Close()
		if resp.ProtoMajor != 1 {
			t.Errorf("served over %s, want HTTP/1.1 only", resp.Proto)
		}
	}

	selfSigned := startMetricsManager(t, managerToken, Options{MetricsSecure: true})
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	waitServing(t, insecure, "https://"+selfSigned+"/metrics")
	if code, body := scrape(t, insecure, "https://"+selfSigned+"/metrics", ""); code != http.StatusUnauthorized {
		t.Errorf("self-signed, no token: %d, want 401: %s", code, body)
	}
	if code, body := scrape(t, insecure, "https://"+selfSigned+"/metrics", readerToken); code != http.StatusOK {
		t.Errorf("self-signed, metrics-reader token: %d, want 200: %s", code, body)
	}

	plain := startMetricsManager(t, managerToken, Options{})
	plainClient := &http.Client{Timeout: 10 * time.Second}
	waitServing(t, plainClient, "http://"+plain+"/metrics")
	if code, body := scrape(t, plainClient, "http://"+plain+"/metrics", ""); code != http.StatusOK || !strings.Contains(body, "cloudop_build_info") {
		t.Errorf("plain HTTP, no token: %d, want 200 with the metrics: %.200s", code, body)
	}
}

// audienceToken is a token of ServiceAccount ns/name for audience alone.
func audienceToken(t *testing.T, ns, name, audience string) string {
	t.Helper()
	tr, err := clientset.CoreV1().ServiceAccounts(ns).CreateToken(context.Background(), name,
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{Audiences: []string{audience}}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, name, err)
	}
	return tr.Status.Token
}

// generatedClusterRole reads the ClusterRole `make manifests` generates,
// under a name of the test's own.
func generatedClusterRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(root, "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var role rbacv1.ClusterRole
	if err := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096).Decode(&role); err != nil {
		t.Fatal(err)
	}
	if role.Kind != "ClusterRole" {
		t.Fatalf("config/rbac/role.yaml holds a %s", role.Kind)
	}
	role.ObjectMeta = metav1.ObjectMeta{GenerateName: role.Name + "-"}
	return &role
}

// servingCert writes a certificate for 127.0.0.1 and its key as tls.crt
// and tls.key into a new directory, and returns it with a pool trusting
// the certificate.
func servingCert(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	cert, key, err := certutil.GenerateSelfSignedCertKey("127.0.0.1", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := errors.Join(os.WriteFile(filepath.Join(dir, metricsCertName), cert, 0o600),
		os.WriteFile(filepath.Join(dir, metricsKeyName), key, 0o600)); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(cert) {
		t.Fatal("no certificate in the generated PEM")
	}
	return dir, roots
}

// startMetricsManager starts a manager as token's ServiceAccount with o's
// metrics settings on a free loopback address, and returns the address.
func startMetricsManager(t *testing.T, token string, o Options) string {
	t.Helper()
	addr, err := testenv.FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	o.MetricsAddr = addr
	m, err := newTestManager(tokenConfig(token), o)
	if err != nil {
		t.Fatal(err)
	}
	startManager(t, m)
	return addr
}

// waitServing waits until url answers at all.
func waitServing(t *testing.T, c *http.Client, url string) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, url+" to answer", func() (bool, string) {
		resp, err := c.Get(url)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return true, ""
	})
}

// scrape gets url with token as bearer token ("" for none) and returns
// the status and body.
func scrape(t *testing.T, c *http.Client, url, token string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

package manager

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// parseWatchNamespaces checks --watch-namespace values and returns them
// sorted without duplicates; none means the whole cluster (nil). A name
// that is not a namespace name is an error naming it, so a typo stops the
// manager instead of leaving it to watch a namespace that cannot exist.
func parseWatchNamespaces(names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var out []string
	for _, n := range names {
		if n == "" {
			return nil, errors.New("watch namespace: empty name (omit --watch-namespace to watch the whole cluster)")
		}
		if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
			return nil, fmt.Errorf("watch namespace %q: not a namespace name: %s", n, strings.Join(errs, "; "))
		}
		out = append(out, n)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Names of the serving certificate and key in MetricsCertDir, as
// controller-runtime and a kubernetes.io/tls Secret name them.
const (
	metricsCertName = "tls.crt"
	metricsKeyName  = "tls.key"
)

// metricsOptions returns the metrics server's options. Secure, it serves
// HTTPS and lets in only requests whose bearer token the API server
// authenticates (TokenReview) and authorizes for get on the request's
// path, e.g. nonResourceURLs /metrics (SubjectAccessReview). The
// certificate comes from certDir (tls.crt, tls.key; reloaded when they
// change) or, with no directory, is self-signed at start.
func metricsOptions(addr string, secure bool, certDir string) (metricsserver.Options, error) {
	o := metricsserver.Options{BindAddress: defaultString(addr, "0")}
	if !secure {
		if certDir != "" {
			return o, fmt.Errorf("metrics cert dir %q given, but metrics are served over plain HTTP: drop it or turn on secure metrics", certDir)
		}
		return o, nil
	}
	if certDir != "" {
		// controller-runtime silently falls back to a self-signed
		// certificate when the files are missing; a wrong mount should
		// fail instead.
		for _, name := range []string{metricsCertName, metricsKeyName} {
			if _, err := os.Stat(filepath.Join(certDir, name)); err != nil {
				return o, fmt.Errorf("metrics cert dir: %w", err)
			}
		}
	}
	o.SecureServing = true
	o.FilterProvider = metricsAuthFilter
	o.CertDir, o.CertName, o.KeyName = certDir, metricsCertName, metricsKeyName
	// HTTP/1.1 only, as kubebuilder's scaffold does: a scraper gains
	// nothing from HTTP/2, and it keeps the endpoint out of HTTP/2's
	// stream-reset attacks (CVE-2023-44487).
	o.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
	return o, nil
}

// scopeNamespaces is the startup log's value of the watched namespaces.
func scopeNamespaces(namespaces []string) any {
	if len(namespaces) == 0 {
		return "all"
	}
	return namespaces
}

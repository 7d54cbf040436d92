package transport

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/cloudop/cloudop/internal/cloud"
)

// DefaultAllowedEndpoints is the spec.endpoint allowlist used when
// EndpointResolver.Allowed is nil: HTTPS hosts under Huawei Cloud's public
// API domains. A user-supplied endpoint is a server-side request the
// manager makes with the user's credentials, so anything else (cluster
// internal addresses, metadata services) must be allowed explicitly.
var DefaultAllowedEndpoints = []string{
	"https://*.myhuaweicloud.com",
	"https://*.myhuaweicloud.cn",
	"https://*.myhuaweicloud.eu",
}

// EndpointResolver decides the base URL each request goes to.
type EndpointResolver struct {
	// Overrides are the manager's --service-endpoint SERVICE=URL flags.
	// They are trusted (set by the operator's installer) and not checked
	// against Allowed.
	Overrides map[cloud.Service]string
	// Allowed are the patterns a CloudOperation's spec.endpoint must
	// match: an exact base URL ("http://127.0.0.1:8080") or a scheme with
	// a "*." host wildcard ("https://*.example.com", matching any host
	// strictly below example.com). A pattern without a port matches only
	// the scheme's default port. nil means DefaultAllowedEndpoints; an
	// empty non-nil slice forbids spec.endpoint altogether.
	Allowed []string
}

// Resolve returns the base URL (scheme://host[:port]) for service: the
// spec endpoint when set (it must match the allowlist, else a
// KindPermanent error naming spec.endpoint), else the service's override,
// else the regional default (see DefaultEndpoint).
func (r *EndpointResolver) Resolve(service cloud.Service, region, specEndpoint string) (string, error) {
	if strings.TrimSpace(specEndpoint) != "" {
		base, err := NormalizeBaseURL(specEndpoint)
		if err != nil {
			return "", cloud.Permanentf("spec.endpoint %q is not a valid base URL: %s", cloud.Excerpt(specEndpoint, cloud.MaxQuotedRunes), err)
		}
		allowed := DefaultAllowedEndpoints
		if r != nil && r.Allowed != nil {
			allowed = r.Allowed
		}
		for _, p := range allowed {
			if matchEndpointPattern(p, base) {
				return base, nil
			}
		}
		return "", cloud.Permanentf("spec.endpoint %q is not allowed by the manager (allowed: %s)", base, strings.Join(allowed, ", "))
	}
	if r != nil {
		if o, ok := r.Overrides[service]; ok && o != "" {
			base, err := NormalizeBaseURL(o)
			if err != nil {
				return "", cloud.Permanentf("--service-endpoint for %s is not a valid base URL: %s", service, err)
			}
			return base, nil
		}
	}
	return DefaultEndpoint(service, region)
}

// Validate checks the overrides and allowlist patterns, for the manager to
// fail fast at start-up instead of on every reconcile.
func (r *EndpointResolver) Validate() error {
	if r == nil {
		return nil
	}
	for s, o := range r.Overrides {
		if _, err := NormalizeBaseURL(o); err != nil {
			return fmt.Errorf("service endpoint for %s: %w", s, err)
		}
	}
	for _, p := range r.Allowed {
		if _, err := parseEndpointPattern(p); err != nil {
			return fmt.Errorf("allowed endpoint %q: %w", p, err)
		}
	}
	return nil
}

// regionPattern keeps a region safe to splice into a host name.
var regionPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Regional domain exceptions, from the Huawei Cloud Go SDK v0.1.207 region
// tables. eu-west-101 (the EU sovereign region) lives under
// myhuaweicloud.eu; eu-west-0 (Paris) under .com. Some DWS regions answer
// only under myhuaweicloud.cn.
var (
	regionDomains = map[string]string{
		"eu-west-0": "myhuaweicloud.com",
	}
	serviceRegionDomains = map[cloud.Service]map[string]string{
		cloud.ServiceDWS: {
			"ap-southeast-4": "myhuaweicloud.cn",
			"cn-east-4":      "myhuaweicloud.cn",
			"cn-north-12":    "myhuaweicloud.cn",
			"cn-south-4":     "myhuaweicloud.cn",
			"tr-west-1":      "myhuaweicloud.cn",
		},
	}
)

// Host labels of the services whose lower-cased name is not their host,
// from the same SDK region tables: the usual label, then the regions that
// name another one. GaussDB (for MySQL) answers on gaussdb.{region} but in
// some regions on gaussdbformysql or gaussdb-mysql; GaussDB for openGauss
// on gaussdb-opengauss, in some regions on gaussdb (the label GaussDB for
// MySQL has elsewhere); GaussDB for NoSQL on gaussdb-nosql everywhere.
var (
	serviceHosts = map[cloud.Service]string{
		cloud.ServiceGaussDBforOpenGauss: "gaussdb-opengauss",
		cloud.ServiceGaussDBforNoSQL:     "gaussdb-nosql",
	}
	serviceRegionHosts = map[cloud.Service]map[string]string{
		cloud.ServiceGaussDB: {
			"ap-southeast-1": "gaussdbformysql",
			"ap-southeast-2": "gaussdbformysql",
			"cn-north-11":    "gaussdbformysql",
			"me-east-1":      "gaussdbformysql",
			"tr-west-1":      "gaussdbformysql",
			"af-south-1":     "gaussdb-mysql",
			"cn-east-5":      "gaussdb-mysql",
			"cn-southwest-3": "gaussdb-mysql",
			"la-north-2":     "gaussdb-mysql",
		},
		cloud.ServiceGaussDBforOpenGauss: {
			"af-north-1":     "gaussdb",
			"ap-southeast-5": "gaussdb",
			"cn-east-2":      "gaussdb",
			"cn-east-4":      "gaussdb",
			"cn-east-5":      "gaussdb",
			"cn-north-12":    "gaussdb",
			"me-east-1":      "gaussdb",
			"tr-west-1":      "gaussdb",
		},
	}
)

// serviceRegionBaseURLs are whole base URLs the SDK's tables give instead
// of the {label}.{region}.{domain} rule: RFS in eu-west-101 answers on
// aos.myhuaweicloud.eu, without the region.
var serviceRegionBaseURLs = map[cloud.Service]map[string]string{
	cloud.ServiceRFS: {"eu-west-101": "https://aos.myhuaweicloud.eu"},
}

// hostLabel is the first label of service's host in region: the SDK's
// label where it differs from the service's name, else the name in lower
// case.
func hostLabel(service cloud.Service, region string) string {
	if h, ok := serviceRegionHosts[service][region]; ok {
		return h
	}
	if h, ok := serviceHosts[service]; ok {
		return h
	}
	return strings.ToLower(string(service))
}

// DefaultEndpoint returns https://{host}.{region}.{domain}, where host is
// the service's name in lower case (GaussDB for openGauss and for NoSQL:
// gaussdb-opengauss and gaussdb-nosql; GaussDB and openGauss take other
// labels in the regions the SDK names, see serviceRegionHosts) and domain
// is myhuaweicloud.com except: myhuaweicloud.eu for eu-* regions other
// than eu-west-0, and myhuaweicloud.cn for the DWS regions the SDK lists
// there. BCS uses .com (the SDK lists .cn only as a second choice). The AOS
// host (aos.{region}...) is unverified; override it if it does not answer.
// EIP jobs are served by the VPC host (vpc.{region}...). RFS answers on
// rfs.{region}..., but in eu-west-101, its only eu-* region in the SDK, on
// https://aos.myhuaweicloud.eu (see serviceRegionBaseURLs). For ECS, EVS, IMS
// and VPC in eu-west-101 the SDK's tables say .com where CCE, DWS and most
// other services say .eu; clients in the field call the .eu hosts, so the
// .eu rule is kept for them too (unverified). RDS, DDS and GaussDB for
// NoSQL are .eu in eu-west-101 in the SDK's tables as well; GaussDB and
// openGauss have no eu-* region there, so the rule is unverified for them.
func DefaultEndpoint(service cloud.Service, region string) (string, error) {
	region = strings.TrimSpace(region)
	if region == "" {
		return "", cloud.Permanentf("spec.region is required to find the %s endpoint", service)
	}
	if len(region) > 63 || !regionPattern.MatchString(region) {
		return "", cloud.Permanentf("spec.region %q is not a valid region name", cloud.Excerpt(region, cloud.MaxQuotedRunes))
	}
	if u, ok := serviceRegionBaseURLs[service][region]; ok {
		return u, nil
	}
	svc := hostLabel(service, region)
	if svc == "" || !regionPattern.MatchString(svc) {
		return "", cloud.Permanentf("unsupported service %q", cloud.Excerpt(string(service), cloud.MaxQuotedRunes))
	}
	domain := "myhuaweicloud.com"
	if strings.HasPrefix(region, "eu-") {
		domain = "myhuaweicloud.eu"
	}
	if d, ok := regionDomains[region]; ok {
		domain = d
	}
	if d, ok := serviceRegionDomains[service][region]; ok {
		domain = d
	}
	return "https://" + svc + "." + region + "." + domain, nil
}

// ParseServiceEndpoint parses a --service-endpoint flag value such as
// "CCE=http://127.0.0.1:8080". The service name is case-insensitive
// ("gaussdb" is GaussDB) and must be one of the supported services.
func ParseServiceEndpoint(s string) (cloud.Service, string, error) {
	name, raw, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("service endpoint %q: want SERVICE=URL", s)
	}
	i := slices.IndexFunc(cloud.Services, func(svc cloud.Service) bool {
		return strings.EqualFold(string(svc), strings.TrimSpace(name))
	})
	if i < 0 {
		return "", "", fmt.Errorf("service endpoint %q: unknown service %q", s, name)
	}
	svc := cloud.Services[i]
	base, err := NormalizeBaseURL(raw)
	if err != nil {
		return "", "", fmt.Errorf("service endpoint %q: %w", s, err)
	}
	return svc, base, nil
}

// NormalizeBaseURL checks that s is an http(s) URL with a host and nothing
// after it but an optional "/", and returns it as scheme://host[:port]
// with scheme and host lower-cased and a default port dropped.
func NormalizeBaseURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("cannot parse URL")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" && scheme != "http" {
		return "", fmt.Errorf("scheme must be https or http")
	}
	if u.User != nil {
		return "", fmt.Errorf("user information is not allowed")
	}
	if u.Host == "" || u.Hostname() == "" {
		return "", fmt.Errorf("host is missing")
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("only scheme://host[:port] is allowed, without path, query or fragment")
	}
	host := strings.ToLower(u.Hostname())
	if strings.ContainsAny(host, "*%") {
		return "", fmt.Errorf("invalid host")
	}
	if p := u.Port(); p != "" && p != defaultPort(scheme) {
		host = net.JoinHostPort(host, p)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host, nil
}

type endpointPattern struct {
	scheme string
	// suffix is ".example.com" for a wildcard, or "" for an exact host.
	suffix string
	host   string
	port   string
}

func parseEndpointPattern(p string) (endpointPattern, error) {
	p = strings.TrimSpace(p)
	scheme, rest, ok := strings.Cut(p, "://")
	if !ok {
		return endpointPattern{}, fmt.Errorf("want scheme://host[:port]")
	}
	wildcard := strings.HasPrefix(rest, "*.")
	if wildcard {
		// Parse with a placeholder label so url.Parse accepts the host.
		rest = "wildcard" + rest[1:]
	}
	base, err := NormalizeBaseURL(scheme + "://" + rest)
	if err != nil {
		return endpointPattern{}, err
	}
	u, _ := url.Parse(base)
	ep := endpointPattern{scheme: u.Scheme, host: u.Hostname(), port: u.Port()}
	if wildcard {
		ep.suffix = strings.TrimPrefix(ep.host, "wildcard")
		ep.host = ""
		if strings.Count(ep.suffix, ".") < 2 {
			// "*.com" would allow the whole internet.
			return endpointPattern{}, fmt.Errorf("wildcard needs at least two labels after it")
		}
	}
	return ep, nil
}

// matchEndpointPattern reports whether the normalized base URL matches
// pattern. Invalid patterns match nothing.
func matchEndpointPattern(pattern, base string) bool {
	ep, err := parseEndpointPattern(pattern)
	if err != nil {
		return false
	}
	u, err := url.Parse(base)
	if err != nil {
		return false
	}
	if u.Scheme != ep.scheme {
		return false
	}
	port := u.Port()
	if port == defaultPort(u.Scheme) {
		port = ""
	}
	pport := ep.port
	if pport == defaultPort(ep.scheme) {
		pport = ""
	}
	if port != pport {
		return false
	}
	host := u.Hostname()
	if ep.suffix != "" {
		label := strings.TrimSuffix(host, ep.suffix)
		return label != host && label != "" && !strings.HasSuffix(label, ".")
	}
	return host == ep.host
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

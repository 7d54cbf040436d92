package transport

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cloudop/cloudop/internal/cloud"
)

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
	// the scheme's default port. nil means the default: only the
	// service's own API hosts in the object's region (see Resolve); an
	// empty non-nil slice forbids spec.endpoint altogether.
	Allowed []string
}

// Resolve returns the base URL (scheme://host[:port]) for service: the
// spec endpoint when set (it must be allowed, else a KindPermanent error
// naming spec.endpoint), else the service's override, else the regional
// default (see DefaultEndpoint).
//
// With Allowed nil, a spec endpoint is allowed only if it is one of the
// service's own API hosts, read from the table DefaultEndpoint uses:
// https://{label}.{region}.{domain} on the default port, where label is a
// label the service has in any region, domain a domain it has in any
// region, and region is the object's own region (a Huawei region name,
// never containing a dot); or the service's whole base URL for that
// region where the table has one (RFS in eu-west-101). It never allows a
// wildcard: hosts under myhuaweicloud.com with more labels are customers'
// (OBS buckets <bucket>.obs.<region>..., static websites
// <bucket>.obs-website.<region>..., IoTDA instances), and a signed request
// with its X-Security-Token must not reach them. The region must be the
// object's because requests are paced per (credentials, service,
// spec.region) and sign for spec.region's project: another region's host
// would dodge that region's pacing and fail anyway. So spec.endpoint
// chooses among the documented variants of the host (another label or
// domain the SDK lists), for when the default is wrong.
func (r *EndpointResolver) Resolve(service cloud.Service, region, specEndpoint string) (string, error) {
	if strings.TrimSpace(specEndpoint) != "" {
		base, err := NormalizeBaseURL(specEndpoint)
		if err != nil {
			return "", cloud.Permanentf("spec.endpoint %q is not a valid base URL: %s", cloud.Excerpt(specEndpoint, cloud.MaxQuotedRunes), err)
		}
		if r == nil || r.Allowed == nil {
			if defaultAllows(service, region, base) {
				return base, nil
			}
			return "", cloud.Permanentf("spec.endpoint %q is not allowed by the manager: without --allowed-endpoint only %s", base, describeDefaultAllowed(service, region))
		}
		for _, p := range r.Allowed {
			if matchEndpointPattern(p, base) {
				return base, nil
			}
		}
		return "", cloud.Permanentf("spec.endpoint %q is not allowed by the manager (allowed: %s)", base, strings.Join(r.Allowed, ", "))
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

// regionName is the shape of every Huawei Cloud region name in the SDK's
// tables: a two-letter area, one word, a number (cn-north-4, ap-southeast-1,
// eu-west-101, ae-ad-1, my-kualalumpur-1). It is the middle label of an API
// host, so it must never hold a dot, nor be a word like "obs" that would
// turn {label}.{region}.myhuaweicloud.com into a bucket's host
// (iam.obs.myhuaweicloud.com is bucket "iam" on OBS's global endpoint).
var regionName = regexp.MustCompile(`^[a-z]{2}-[a-z]{2,16}-[0-9]{1,3}$`)

// labelPattern keeps a host label safe to splice into a host name.
var labelPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Huawei Cloud's API domains. A service's own exceptions (DWS's .cn
// regions) are in the service table.
const (
	domainCOM = "myhuaweicloud.com"
	domainEU  = "myhuaweicloud.eu"
)

// The domain rule for every service, from the Huawei Cloud Go SDK v0.1.207
// region tables: myhuaweicloud.com, but .eu for eu-* regions (eu-west-101
// is the EU sovereign region), except eu-west-0 (Paris), which is .com.
var (
	regionPrefixDomains = []struct{ prefix, domain string }{{"eu-", domainEU}}
	regionDomains       = map[string]string{"eu-west-0": domainCOM}
)

// hostRule is where one service's API answers: https://{label}.{region}.{domain}
// with the exceptions the SDK's region tables give. It is the service
// table's cloud.Hosts, read into this package's form.
type hostRule struct {
	// label is the host's first label; "" (a service not in the table,
	// IAM) means the service's name in lower case.
	label string
	// regionLabels are the regions whose host has another first label.
	regionLabels map[string]string
	// regionDomains are the regions whose domain differs from the rule
	// every service follows (regionPrefixDomains, regionDomains).
	regionDomains map[string]string
	// regionBaseURLs are whole base URLs the SDK gives instead of the
	// {label}.{region}.{domain} rule.
	regionBaseURLs map[string]string
}

// serviceHostRules holds every supported service's hosts, read from the
// service table (cloud.Descriptors, where the SDK's exceptions are
// explained), so that adding a service is a decision about its hosts.
// DefaultEndpoint builds hosts from it, and the default spec.endpoint
// allowlist allows only hosts built from it. A service absent here (IAM)
// follows the plain rule in DefaultEndpoint and has no spec.endpoint.
// CTS, which discovery sources list, is not in the table (it tracks no
// operation) and follows the plain rule: cts.{region}.{domain}.
var serviceHostRules = hostRules(cloud.Descriptors)

// hostRules indexes the descriptors' hosts by service, and CTS's.
func hostRules(ds []cloud.Descriptor) map[cloud.Service]hostRule {
	out := make(map[cloud.Service]hostRule, len(ds)+1)
	out[cloud.ServiceCTS] = hostRule{}
	for _, d := range ds {
		out[d.Name] = hostRule{
			label:          d.MainLabel(),
			regionLabels:   d.Hosts.RegionLabels,
			regionDomains:  d.Hosts.RegionDomains,
			regionBaseURLs: d.Hosts.RegionBaseURLs,
		}
	}
	return out
}

// mainLabel is the label of service's host outside the regions that name
// another.
func (h hostRule) mainLabel(service cloud.Service) string {
	if h.label != "" {
		return h.label
	}
	return strings.ToLower(string(service))
}

// labelIn is the first label of service's host in region.
func (h hostRule) labelIn(service cloud.Service, region string) string {
	if l, ok := h.regionLabels[region]; ok {
		return l
	}
	return h.mainLabel(service)
}

// domainIn is the domain of the service's host in region.
func (h hostRule) domainIn(region string) string {
	if d, ok := h.regionDomains[region]; ok {
		return d
	}
	if d, ok := regionDomains[region]; ok {
		return d
	}
	for _, p := range regionPrefixDomains {
		if strings.HasPrefix(region, p.prefix) {
			return p.domain
		}
	}
	return domainCOM
}

// labels are every first label the service's host has in some region, its
// main one first.
func (h hostRule) labels(service cloud.Service) []string {
	out := []string{h.mainLabel(service)}
	return appendSortedNew(out, h.regionLabels)
}

// domains are every domain domainIn can give the service, .com
// first.
func (h hostRule) domains() []string {
	out := []string{domainCOM}
	for _, p := range regionPrefixDomains {
		if !slices.Contains(out, p.domain) {
			out = append(out, p.domain)
		}
	}
	out = appendSortedNew(out, regionDomains)
	return appendSortedNew(out, h.regionDomains)
}

// appendSortedNew appends m's values not yet in out, sorted, so that
// messages do not depend on map order.
func appendSortedNew(out []string, m map[string]string) []string {
	var add []string
	for _, v := range m {
		if !slices.Contains(out, v) && !slices.Contains(add, v) {
			add = append(add, v)
		}
	}
	slices.Sort(add)
	return append(out, add...)
}

// DefaultEndpoint returns https://{host}.{region}.{domain}, where host is
// the service's name in lower case (GaussDB for openGauss and for NoSQL:
// gaussdb-opengauss and gaussdb-nosql; GaussDB and openGauss take other
// labels in the regions the SDK names, see serviceHostRules) and domain
// is myhuaweicloud.com except: myhuaweicloud.eu for eu-* regions other
// than eu-west-0, and myhuaweicloud.cn for the DWS regions the SDK lists
// there. BCS uses .com (the SDK lists .cn only as a second choice). The AOS
// host (aos.{region}...) is unverified; override it if it does not answer.
// EIP jobs are served by the VPC host (vpc.{region}...). RFS answers on
// rfs.{region}..., but in eu-west-101, its only eu-* region in the SDK, on
// https://aos.myhuaweicloud.eu. For ECS, EVS, IMS and VPC in eu-west-101
// the SDK's tables say .com where CCE, DWS and most other services say
// .eu; clients in the field call the .eu hosts, so the .eu rule is kept
// for them too (unverified). RDS, DDS and GaussDB for NoSQL are .eu in
// eu-west-101 in the SDK's tables as well; GaussDB and openGauss have no
// eu-* region there, so the rule is unverified for them. A service not in
// serviceHostRules (IAM) follows the plain rule. region must look like a
// Huawei region name (regionName).
func DefaultEndpoint(service cloud.Service, region string) (string, error) {
	region = strings.TrimSpace(region)
	if region == "" {
		return "", cloud.Permanentf("spec.region is required to find the %s endpoint", service)
	}
	if !regionName.MatchString(region) {
		return "", cloud.Permanentf("spec.region %q is not a valid region name", cloud.Excerpt(region, cloud.MaxQuotedRunes))
	}
	rule := serviceHostRules[service]
	if u, ok := rule.regionBaseURLs[region]; ok {
		return u, nil
	}
	label := rule.labelIn(service, region)
	if label == "" || !labelPattern.MatchString(label) {
		return "", cloud.Permanentf("unsupported service %q", cloud.Excerpt(string(service), cloud.MaxQuotedRunes))
	}
	return "https://" + label + "." + region + "." + rule.domainIn(region), nil
}

// defaultAllows reports whether the normalized base URL is one of
// service's own API hosts in region (see Resolve).
func defaultAllows(service cloud.Service, region, base string) bool {
	rule, ok := serviceHostRules[service]
	region = strings.TrimSpace(region)
	if !ok || !regionName.MatchString(region) {
		return false
	}
	if u, ok := rule.regionBaseURLs[region]; ok && base == u {
		return true
	}
	// base is normalized: lower case, no userinfo or path, and a port
	// only when not 443, which then stays glued to the domain and fails.
	host, ok := strings.CutPrefix(base, "https://")
	if !ok {
		return false
	}
	// Labels and regions hold no dot, so this is exactly three parts.
	label, rest, _ := strings.Cut(host, ".")
	r, domain, _ := strings.Cut(rest, ".")
	return r == region && slices.Contains(rule.labels(service), label) && slices.Contains(rule.domains(), domain)
}

// describeDefaultAllowed says, briefly, which spec.endpoint values the
// default allows for service in region, for the refusal's message.
func describeDefaultAllowed(service cloud.Service, region string) string {
	rule, ok := serviceHostRules[service]
	if !ok {
		return fmt.Sprintf("the supported services' own hosts are allowed, and %q is not one", cloud.Excerpt(string(service), cloud.MaxQuotedRunes))
	}
	region = strings.TrimSpace(region)
	if !regionName.MatchString(region) {
		return fmt.Sprintf("%s's API hosts in spec.region are allowed, and spec.region %q is not a region name", service, cloud.Excerpt(region, cloud.MaxQuotedRunes))
	}
	alt := func(s []string) string {
		if len(s) == 1 {
			return s[0]
		}
		return "{" + strings.Join(s, "|") + "}"
	}
	hosts := "https://" + alt(rule.labels(service)) + "." + region + "." + alt(rule.domains())
	if u, ok := rule.regionBaseURLs[region]; ok {
		hosts += " or " + u
	}
	return fmt.Sprintf("%s's API hosts in %s are allowed: %s", service, region, hosts)
}

// ParseServiceEndpoint parses a --service-endpoint flag value such as
// "CCE=http://127.0.0.1:8080". The service name is case-insensitive
// ("gaussdb" is GaussDB) and must be one of the supported services, or
// CTS (which discovery sources list).
func ParseServiceEndpoint(s string) (cloud.Service, string, error) {
	name, raw, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", fmt.Errorf("service endpoint %q: want SERVICE=URL", s)
	}
	known := append(slices.Clip(cloud.Services), cloud.ServiceCTS)
	i := slices.IndexFunc(known, func(svc cloud.Service) bool {
		return strings.EqualFold(string(svc), strings.TrimSpace(name))
	})
	if i < 0 {
		return "", "", fmt.Errorf("service endpoint %q: unknown service %q", s, name)
	}
	svc := known[i]
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
	if !isASCII(u.Hostname()) {
		// strings.ToLower maps some (İ, the Kelvin sign) to ASCII letters
		// and the HTTP client's IDNA others (fullwidth ｅ): a host would
		// not be what it looks like.
		return "", fmt.Errorf("host must be ASCII (write an IDN in its xn-- form)")
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

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

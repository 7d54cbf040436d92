package transport

import (
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/cloudop/cloudop/internal/cloud"
)

// endpointSeeds are spec.endpoint values worth starting from: accepted
// hosts, customer-named hosts and URL tricks.
var endpointSeeds = []string{
	"https://ecs.cn-north-4.myhuaweicloud.com",
	"https://CCE.cn-north-4.myhuaweicloud.com/",
	"https://dws.tr-west-1.myhuaweicloud.cn:443",
	"https://gaussdbformysql.ap-southeast-1.myhuaweicloud.com",
	"https://aos.myhuaweicloud.eu",
	"https://anything.obs.cn-north-4.myhuaweicloud.com",
	"https://ecs.cn-north-4.obs.cn-north-4.myhuaweicloud.com",
	"https://bucket.obs-website.cn-north-4.myhuaweicloud.com",
	"https://ecs.obs.myhuaweicloud.com",
	"https://ecs.cn-north-4.myhuaweicloud.com.",
	"https://ecs.cn-north-4.myhuaweicloud.com:8443",
	"https://u:p@ecs.cn-north-4.myhuaweicloud.com",
	"https://\u0130ms.cn-north-4.myhuaweicloud.com",
	"https://%e2%84%aams.cn-north-4.myhuaweicloud.com",
	"http://[::1]:80",
	"http://169.254.169.254",
	"https://[fe80::1%25eth0]:443",
}

// FuzzNormalizeBaseURL: a normalized URL is its own normal form, and holds
// nothing but a lower-case http(s) scheme, an ASCII host and a non-default
// port.
func FuzzNormalizeBaseURL(f *testing.F) {
	for _, s := range endpointSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := NormalizeBaseURL(s)
		if err != nil {
			return
		}
		again, err := NormalizeBaseURL(out)
		if err != nil || again != out {
			t.Fatalf("NormalizeBaseURL(%q) = %q, but that normalizes to %q, %v", s, out, again, err)
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("%q does not parse: %v", out, err)
		}
		if u.Scheme != "https" && u.Scheme != "http" {
			t.Fatalf("%q: scheme %q", out, u.Scheme)
		}
		if u.User != nil || u.Opaque != "" || u.Path != "" || u.RawPath != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Hostname() == "" {
			t.Fatalf("%q has more than scheme://host[:port]: %#v", out, u)
		}
		if out != u.Scheme+"://"+u.Host {
			t.Fatalf("%q is not scheme://host[:port]", out)
		}
		if p := u.Port(); p != "" && p == defaultPort(u.Scheme) {
			t.Fatalf("%q keeps the default port", out)
		}
		for i := 0; i < len(out); i++ {
			if c := out[i]; c >= utf8.RuneSelf || c <= ' ' || ('A' <= c && c <= 'Z') {
				t.Fatalf("%q holds %q", out, c)
			}
		}
	})
}

// defaultHostParts are the labels and domains DefaultEndpoint gives a
// service over the regions the tables name, and its special base URLs:
// the oracle FuzzResolveSpecEndpoint checks the default allowlist against,
// built only from DefaultEndpoint's answers.
type defaultHostParts struct {
	labels, domains, baseURLs []string
}

func defaultHostPartsOf(t testing.TB, svc cloud.Service) defaultHostParts {
	var p defaultHostParts
	for _, region := range tableRegions() {
		u, err := DefaultEndpoint(svc, region)
		if err != nil {
			t.Fatalf("DefaultEndpoint(%s, %s): %v", svc, region, err)
		}
		host := strings.TrimPrefix(u, "https://")
		label, rest, _ := strings.Cut(host, ".")
		r, domain, _ := strings.Cut(rest, ".")
		if r != region {
			p.baseURLs = append(p.baseURLs, u)
			continue
		}
		if !slices.Contains(p.labels, label) {
			p.labels = append(p.labels, label)
		}
		if !slices.Contains(p.domains, domain) {
			p.domains = append(p.domains, domain)
		}
	}
	return p
}

// FuzzResolveSpecEndpoint: without --allowed-endpoint, whatever the
// default accepts is https://{label}.{region}.{domain} with a label and a
// domain DefaultEndpoint gives the service in some region and the
// object's own region, or the special base URL DefaultEndpoint gives for
// that region; anything else is a permanent error, never a panic.
func FuzzResolveSpecEndpoint(f *testing.F) {
	oracle := map[cloud.Service]defaultHostParts{}
	for _, svc := range cloud.Services {
		oracle[svc] = defaultHostPartsOf(f, svc)
	}
	for i, s := range endpointSeeds {
		f.Add(uint8(i), "cn-north-4", s)
	}
	f.Add(uint8(slices.Index(cloud.Services, cloud.ServiceRFS)), "eu-west-101", "https://aos.myhuaweicloud.eu")
	f.Add(uint8(slices.Index(cloud.Services, cloud.ServiceDWS)), "tr-west-1", "https://dws.tr-west-1.myhuaweicloud.cn")
	f.Add(uint8(0), "obs", "https://bcs.obs.myhuaweicloud.com")
	f.Fuzz(func(t *testing.T, i uint8, region, spec string) {
		svc := cloud.Services[int(i)%len(cloud.Services)]
		if strings.TrimSpace(spec) == "" {
			return // not a spec endpoint: the default is DefaultEndpoint's
		}
		var r *EndpointResolver
		base, err := r.Resolve(svc, region, spec)
		if err != nil {
			if cloud.KindOf(err) != cloud.KindPermanent {
				t.Fatalf("Resolve(%s, %q, %q): %v is not permanent", svc, region, spec, err)
			}
			return
		}
		if n, err := NormalizeBaseURL(spec); err != nil || n != base {
			t.Fatalf("Resolve(%s, %q, %q) = %q, not the normalized spec (%q, %v)", svc, region, spec, base, n, err)
		}
		region = strings.TrimSpace(region)
		if def, err := DefaultEndpoint(svc, region); err == nil && def == base {
			return
		}
		p := oracle[svc]
		host, ok := strings.CutPrefix(base, "https://")
		label, rest, _ := strings.Cut(host, ".")
		r2, domain, _ := strings.Cut(rest, ".")
		if !ok || r2 != region || !regionName.MatchString(region) || !slices.Contains(p.labels, label) || !slices.Contains(p.domains, domain) {
			t.Fatalf("Resolve(%s, %q, %q) accepted %q: not one of %v . %s . %v", svc, region, spec, base, p.labels, region, p.domains)
		}
	})
}

// FuzzAllowedEndpointPattern: with --allowed-endpoint, an accepted spec
// endpoint is the pattern's exact base URL, or a host strictly below the
// wildcard's domain with the pattern's scheme and port.
func FuzzAllowedEndpointPattern(f *testing.F) {
	patterns := []string{"https://*.internal.example.com", "http://127.0.0.1:8080", "http://*.svc.cluster.local:8080", "https://*.com", "https://h.example.com:443"}
	for i, s := range endpointSeeds {
		f.Add(patterns[i%len(patterns)], s)
	}
	f.Add("https://*.internal.example.com", "https://a.b.internal.example.com")
	f.Add("http://*.svc.cluster.local:8080", "http://sim.cloudsim.svc.cluster.local:8080")
	f.Fuzz(func(t *testing.T, pattern, spec string) {
		if strings.TrimSpace(spec) == "" {
			return
		}
		r := &EndpointResolver{Allowed: []string{pattern}}
		base, err := r.Resolve(cloud.ServiceCCE, "cn-north-4", spec)
		if err != nil {
			if cloud.KindOf(err) != cloud.KindPermanent {
				t.Fatalf("Resolve(%q) with %q: %v is not permanent", spec, pattern, err)
			}
			return
		}
		p := strings.TrimSpace(pattern)
		scheme, rest, ok := strings.Cut(p, "://")
		if !ok {
			t.Fatalf("pattern %q without a scheme accepted %q", pattern, base)
		}
		if !strings.HasPrefix(rest, "*.") {
			if exact, err := NormalizeBaseURL(p); err != nil || exact != base {
				t.Fatalf("exact pattern %q (%q, %v) accepted %q", pattern, exact, err, base)
			}
			return
		}
		// The wildcard's normal form, with a placeholder label to strip.
		w, err := NormalizeBaseURL(scheme + "://wildcard" + rest[1:])
		if err != nil {
			t.Fatalf("invalid wildcard pattern %q accepted %q", pattern, base)
		}
		prefix, suffix, _ := strings.Cut(w, "wildcard")
		if !strings.HasPrefix(base, prefix) || !strings.HasSuffix(base, suffix) || len(base) <= len(prefix)+len(suffix) {
			t.Fatalf("pattern %q accepted %q, not below %q", pattern, base, prefix+"*"+suffix)
		}
		label := base[len(prefix) : len(base)-len(suffix)]
		if strings.HasSuffix(label, ".") || strings.ContainsAny(label, ":/@[]") {
			t.Fatalf("pattern %q accepted %q: label part %q", pattern, base, label)
		}
		if strings.Count(suffix, ".") < 2 {
			t.Fatalf("too broad pattern %q accepted %q", pattern, base)
		}
	})
}

package transport

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/cloudop/cloudop/internal/cloud"
)

// tableRegions are the regions the host tables name, plus the three every
// service is checked in: the regions where a host differs from the rule.
func tableRegions() []string {
	regions := []string{"cn-north-4", "eu-west-101", "ap-southeast-1"}
	add := func(m map[string]string) {
		for r := range m {
			if !slices.Contains(regions, r) {
				regions = append(regions, r)
			}
		}
	}
	add(regionDomains)
	for _, h := range serviceHostRules {
		add(h.regionLabels)
		add(h.regionDomains)
		add(h.regionBaseURLs)
	}
	slices.Sort(regions)
	return regions
}

// TestServiceHostRules: the table holds exactly the supported services,
// and every name in it is safe to splice into a host.
func TestServiceHostRules(t *testing.T) {
	got := slices.Sorted(maps.Keys(serviceHostRules))
	// CTS too: discovery sources list it, though it tracks nothing.
	want := slices.Sorted(slices.Values(append(slices.Clip(cloud.Services), cloud.ServiceCTS)))
	if !slices.Equal(got, want) {
		t.Fatalf("serviceHostRules has %v, cloud.Services %v", got, want)
	}
	for _, r := range tableRegions() {
		if !regionName.MatchString(r) {
			t.Errorf("table region %q does not match regionName", r)
		}
	}
	for svc, h := range serviceHostRules {
		for _, l := range h.labels(svc) {
			if !labelPattern.MatchString(l) {
				t.Errorf("%s: label %q", svc, l)
			}
		}
		for r, u := range h.regionBaseURLs {
			if n, err := NormalizeBaseURL(u); err != nil || n != u || !strings.HasPrefix(u, "https://") {
				t.Errorf("%s in %s: base URL %q normalizes to %q, %v", svc, r, u, n, err)
			}
		}
	}
}

// TestRegionName: the strict shape admits the SDK's region names and
// nothing that could stand for another part of a host.
func TestRegionName(t *testing.T) {
	for _, r := range []string{
		"cn-north-4", "cn-north-1", "cn-north-11", "cn-north-12", "cn-east-3", "cn-south-1", "cn-southwest-2",
		"ap-southeast-1", "ap-southeast-5", "eu-west-0", "eu-west-101", "la-north-2", "la-south-2",
		"ru-moscow-1", "ru-northwest-2", "my-kualalumpur-1", "af-south-1", "me-east-1", "tr-west-1",
		"na-mexico-1", "sa-brazil-1", "ae-ad-1",
	} {
		if !regionName.MatchString(r) {
			t.Errorf("%q refused", r)
		}
	}
	for _, r := range []string{
		"", "obs", "obs-website", "iam", "mars", "cn-north", "cn-north-4.obs", "obs.cn-north-4",
		"cn-north-4.", ".cn-north-4", "CN-NORTH-4", "cn-north-1234", "c-north-4", "cnn-north-4",
		"cn--4", "cn-north-4-", "cn-north-east-1", "cn-a-1", "cn-north4", "cn_north_4", "cn-north-4\n",
		"cn-nörth-4", "cn-north-٤",
	} {
		if regionName.MatchString(r) {
			t.Errorf("%q admitted", r)
		}
	}
}

// TestDefaultEndpointRefusesNonRegions: a region that is not a region name
// never reaches a host. Before, region "obs" made iam.obs.myhuaweicloud.com,
// bucket "iam" on OBS's global endpoint (the IAM region comes from a
// ServiceAccount annotation tenants write).
func TestDefaultEndpointRefusesNonRegions(t *testing.T) {
	for _, svc := range []cloud.Service{cloud.ServiceECS, cloud.ServiceCCE, "IAM"} {
		for _, r := range []string{"obs", "obs-website", "mars", "cn-north-4.obs", "cn-north-east-1"} {
			got, err := DefaultEndpoint(svc, r)
			if err == nil || cloud.KindOf(err) != cloud.KindPermanent {
				t.Errorf("DefaultEndpoint(%s, %q) = %q, %v; want a permanent error", svc, r, got, err)
			}
		}
	}
	if got, err := DefaultEndpoint("IAM", "cn-north-4"); err != nil || got != "https://iam.cn-north-4.myhuaweicloud.com" {
		t.Errorf("IAM: %q, %v", got, err)
	}
	if got, err := DefaultEndpoint("IAM", "eu-west-101"); err != nil || got != "https://iam.eu-west-101.myhuaweicloud.eu" {
		t.Errorf("IAM eu: %q, %v", got, err)
	}
}

// TestDefaultAllowsEveryDefaultEndpoint: without --allowed-endpoint, each
// service's spec.endpoint may name the host DefaultEndpoint gives it in
// the object's region, in every region the tables name.
func TestDefaultAllowsEveryDefaultEndpoint(t *testing.T) {
	var r *EndpointResolver
	for _, svc := range cloud.Services {
		for _, region := range tableRegions() {
			want, err := DefaultEndpoint(svc, region)
			if err != nil {
				t.Fatalf("DefaultEndpoint(%s, %s): %v", svc, region, err)
			}
			for _, spec := range []string{want, want + "/", strings.ToUpper(want), want + ":443"} {
				got, err := r.Resolve(svc, region, spec)
				if err != nil || got != want {
					t.Errorf("Resolve(%s, %s, %q) = %q, %v; want %q", svc, region, spec, got, err, want)
				}
			}
		}
	}
}

// TestDefaultAllowsDocumentedVariants: the labels and domains a service has
// in other regions are allowed in the object's region, for when the table
// guesses wrong.
func TestDefaultAllowsDocumentedVariants(t *testing.T) {
	var r *EndpointResolver
	for _, tt := range []struct {
		service cloud.Service
		region  string
		spec    string
	}{
		{cloud.ServiceECS, "eu-west-101", "https://ecs.eu-west-101.myhuaweicloud.com"}, // the SDK's table says .com
		{cloud.ServiceDWS, "cn-north-4", "https://dws.cn-north-4.myhuaweicloud.cn"},
		{cloud.ServiceDWS, "tr-west-1", "https://dws.tr-west-1.myhuaweicloud.com"},
		{cloud.ServiceGaussDB, "cn-north-4", "https://gaussdb-mysql.cn-north-4.myhuaweicloud.com"},
		{cloud.ServiceGaussDB, "ap-southeast-1", "https://gaussdb.ap-southeast-1.myhuaweicloud.com"},
		{cloud.ServiceGaussDBforOpenGauss, "cn-north-4", "https://gaussdb.cn-north-4.myhuaweicloud.com"},
		{cloud.ServiceRFS, "eu-west-101", "https://rfs.eu-west-101.myhuaweicloud.eu"},
		{cloud.ServiceCCE, "eu-west-0", "https://cce.eu-west-0.myhuaweicloud.eu"},
	} {
		if got, err := r.Resolve(tt.service, tt.region, tt.spec); err != nil || got != tt.spec {
			t.Errorf("Resolve(%s, %s, %q) = %q, %v", tt.service, tt.region, tt.spec, got, err)
		}
	}
}

// TestDefaultRefuses: customer-named hosts under Huawei's domains, other
// services' hosts, other regions and URL tricks are all refused, with a
// permanent error naming the service and its hosts.
func TestDefaultRefuses(t *testing.T) {
	tests := []struct {
		name    string
		service cloud.Service // "" means ECS
		region  string        // "" means cn-north-4
		spec    string
		invalid bool // refused as not a base URL at all
	}{
		// OBS: buckets, static websites, the global endpoint.
		{name: "bucket", spec: "https://anything.obs.cn-north-4.myhuaweicloud.com"},
		{name: "bucket named like the service", spec: "https://ecs.obs.cn-north-4.myhuaweicloud.com"},
		{name: "static website", spec: "https://bucket.obs-website.cn-north-4.myhuaweicloud.com"},
		{name: "static website named like the service", spec: "https://ecs.obs-website.cn-north-4.myhuaweicloud.com"},
		{name: "bucket name with dots", spec: "https://ecs.cn-north-4.obs.cn-north-4.myhuaweicloud.com"},
		{name: "bucket on the global endpoint", spec: "https://ecs.obs.myhuaweicloud.com"},
		{name: "bucket in the EU", region: "eu-west-101", spec: "https://ecs.obs.eu-west-101.myhuaweicloud.eu"},
		{name: "OBS endpoint for ECS", spec: "https://obs.cn-north-4.myhuaweicloud.com"},
		{name: "OBS global endpoint", spec: "https://obs.myhuaweicloud.com"},
		// IoTDA instances: https://{id}.st1.iotda-app.{region}..., MQTT hosts.
		{name: "IoTDA instance", spec: "https://0123456789.st1.iotda-app.cn-north-4.myhuaweicloud.com"},
		{name: "IoTDA device host", spec: "https://ecs.st1.iotda-device.cn-north-4.myhuaweicloud.com"},
		{name: "IoT MQTT host", spec: "https://ecs.iot-mqtts.cn-north-4.myhuaweicloud.com"},
		// Other services, other regions, other domains.
		{name: "CCE's host for ECS", spec: "https://cce.cn-north-4.myhuaweicloud.com"},
		{name: "VPC's host for ECS", spec: "https://vpc.cn-north-4.myhuaweicloud.com"},
		{name: "RDS's host for GaussDB", service: cloud.ServiceGaussDB, spec: "https://rds.cn-north-4.myhuaweicloud.com"},
		{name: "openGauss's main host for GaussDB", service: cloud.ServiceGaussDB, spec: "https://gaussdb-opengauss.cn-north-4.myhuaweicloud.com"},
		{name: "RFS's eu base URL in another region", service: cloud.ServiceRFS, spec: "https://aos.myhuaweicloud.eu"},
		{name: "RFS's eu base URL for AOS", service: cloud.ServiceAOS, region: "eu-west-101", spec: "https://aos.myhuaweicloud.eu"},
		{name: "another region", spec: "https://ecs.ap-southeast-1.myhuaweicloud.com"},
		{name: ".cn for a service without .cn", spec: "https://ecs.cn-north-4.myhuaweicloud.cn"},
		{name: "no region", spec: "https://ecs.myhuaweicloud.com"},
		{name: "apex", spec: "https://myhuaweicloud.com"},
		{name: "other Huawei domain", spec: "https://ecs.cn-north-4.huaweicloud.com"},
		{name: "suffix trick", spec: "https://ecs.cn-north-4.myhuaweicloud.com.evil.io"},
		{name: "prefix trick", spec: "https://evil.ecs.cn-north-4.myhuaweicloud.com"},
		{name: "lookalike domain", spec: "https://ecs.cn-north-4.myhuaweicloud.com-evil.io"},
		{name: "empty label", spec: "https://ecs..myhuaweicloud.com"},
		{name: "region not a region", region: "obs", spec: "https://ecs.obs.myhuaweicloud.com"},
		{name: "empty region", region: " ", spec: "https://ecs.cn-north-4.myhuaweicloud.com"},
		{name: "unknown service", service: "IAM", spec: "https://iam.cn-north-4.myhuaweicloud.com"},
		// URL tricks.
		{name: "http", spec: "http://ecs.cn-north-4.myhuaweicloud.com"},
		{name: "other port", spec: "https://ecs.cn-north-4.myhuaweicloud.com:8443"},
		{name: "port 80 on https", spec: "https://ecs.cn-north-4.myhuaweicloud.com:80"},
		{name: "zero-padded port", spec: "https://ecs.cn-north-4.myhuaweicloud.com:0443"},
		{name: "trailing dot", spec: "https://ecs.cn-north-4.myhuaweicloud.com."},
		{name: "punycode label", spec: "https://xn--cs-3ia.cn-north-4.myhuaweicloud.com"},
		{name: "userinfo", spec: "https://u:p@ecs.cn-north-4.myhuaweicloud.com", invalid: true},
		{name: "userinfo naming the host", spec: "https://ecs.cn-north-4.myhuaweicloud.com@evil.com", invalid: true},
		{name: "backslash userinfo", spec: `https://evil.com\@ecs.cn-north-4.myhuaweicloud.com`, invalid: true},
		{name: "fragment", spec: "https://evil.com#@ecs.cn-north-4.myhuaweicloud.com", invalid: true},
		{name: "path", spec: "https://ecs.cn-north-4.myhuaweicloud.com/v1", invalid: true},
		{name: "query", spec: "https://ecs.cn-north-4.myhuaweicloud.com?x=1", invalid: true},
		{name: "wildcard", spec: "https://*.cn-north-4.myhuaweicloud.com", invalid: true},
		{name: "percent-encoded letter", spec: "https://ec%73.cn-north-4.myhuaweicloud.com", invalid: true},
		{name: "fullwidth letter (IDNA maps it to e)", spec: "https://\uff45cs.cn-north-4.myhuaweicloud.com", invalid: true},
		{name: "dotted capital I (lower-cases to i)", service: cloud.ServiceIMS, spec: "https://\u0130ms.cn-north-4.myhuaweicloud.com", invalid: true},
		{name: "ideographic full stop", spec: "https://ecs\u3002cn-north-4.myhuaweicloud.com", invalid: true},
		{name: "encoded Kelvin sign", spec: "https://%e2%84%aams.cn-north-4.myhuaweicloud.com", invalid: true},
		{name: "IPv4", spec: "https://100.125.1.250"},
		{name: "IPv4 metadata", spec: "http://169.254.169.254"},
		{name: "IPv4 as a number", spec: "https://2130706433"},
		{name: "IPv6", spec: "https://[::1]"},
		{name: "IPv6 with zone", spec: "https://[fe80::1%25eth0]", invalid: true},
		{name: "no scheme", spec: "ecs.cn-north-4.myhuaweicloud.com", invalid: true},
	}
	var r *EndpointResolver
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, region := tt.service, tt.region
			if svc == "" {
				svc = cloud.ServiceECS
			}
			if region == "" {
				region = "cn-north-4"
			}
			got, err := r.Resolve(svc, region, tt.spec)
			if err == nil || cloud.KindOf(err) != cloud.KindPermanent {
				t.Fatalf("got %q, %v; want a permanent error", got, err)
			}
			msg := err.Error()
			want := "is not allowed by the manager: without --allowed-endpoint only "
			if tt.invalid {
				want = "is not a valid base URL"
			}
			if !strings.Contains(msg, "spec.endpoint") || !strings.Contains(msg, want) {
				t.Fatalf("error %q; want it to say %q", msg, want)
			}
			if !tt.invalid && !strings.Contains(msg, string(svc)) {
				t.Errorf("error %q does not name %s", msg, svc)
			}
		})
	}
}

// TestDefaultRefusalMessage: the refusal says which hosts are allowed, in
// a line.
func TestDefaultRefusalMessage(t *testing.T) {
	const prefix = "spec.endpoint \"https://x.example.com\" is not allowed by the manager: without --allowed-endpoint only "
	tests := []struct {
		service cloud.Service
		region  string
		want    string
	}{
		{cloud.ServiceCCE, "cn-north-4", "CCE's API hosts in cn-north-4 are allowed: https://cce.cn-north-4.{myhuaweicloud.com|myhuaweicloud.eu}"},
		{cloud.ServiceDWS, "tr-west-1", "DWS's API hosts in tr-west-1 are allowed: https://dws.tr-west-1.{myhuaweicloud.com|myhuaweicloud.eu|myhuaweicloud.cn}"},
		{cloud.ServiceGaussDB, "cn-north-4", "GaussDB's API hosts in cn-north-4 are allowed: https://{gaussdb|gaussdb-mysql|gaussdbformysql}.cn-north-4.{myhuaweicloud.com|myhuaweicloud.eu}"},
		{cloud.ServiceRFS, "eu-west-101", "RFS's API hosts in eu-west-101 are allowed: https://rfs.eu-west-101.{myhuaweicloud.com|myhuaweicloud.eu} or https://aos.myhuaweicloud.eu"},
		{cloud.ServiceECS, "obs", `ECS's API hosts in spec.region are allowed, and spec.region "obs" is not a region name`},
		{"IAM", "cn-north-4", `the supported services' own hosts are allowed, and "IAM" is not one`},
	}
	var r *EndpointResolver
	for _, tt := range tests {
		_, err := r.Resolve(tt.service, tt.region, "https://x.example.com")
		if err == nil || err.Error() != prefix+tt.want {
			t.Errorf("%s in %s: got\n%v\nwant\n%s", tt.service, tt.region, err, prefix+tt.want)
		}
	}
}

// TestAllowedPatternsUnchanged: an --allowed-endpoint list replaces the
// default entirely and keeps its old meaning: the admin's patterns, in any
// region, even a wildcard the default would never use.
func TestAllowedPatternsUnchanged(t *testing.T) {
	tests := []struct {
		allowed []string
		region  string
		spec    string
		want    string // "" means refused
	}{
		{[]string{"https://*.internal.example.com"}, "cn-north-4", "https://ecs.gw.internal.example.com", "https://ecs.gw.internal.example.com"},
		{[]string{"https://*.internal.example.com"}, "mars", "https://ecs.internal.example.com", "https://ecs.internal.example.com"},
		{[]string{"https://*.internal.example.com"}, "cn-north-4", "https://internal.example.com", ""},
		{[]string{"https://*.internal.example.com"}, "cn-north-4", "https://ecs.cn-north-4.myhuaweicloud.com", ""},
		{[]string{"https://ecs.cn-north-4.myhuaweicloud.com"}, "ap-southeast-1", "https://ecs.cn-north-4.myhuaweicloud.com", "https://ecs.cn-north-4.myhuaweicloud.com"},
		{[]string{"https://*.myhuaweicloud.com"}, "cn-north-4", "https://bucket.obs.cn-north-4.myhuaweicloud.com", "https://bucket.obs.cn-north-4.myhuaweicloud.com"},
		{[]string{"http://*.svc.cluster.local:8080"}, "cn-north-4", "http://sim.cloudsim.svc.cluster.local:8080", "http://sim.cloudsim.svc.cluster.local:8080"},
		{[]string{"http://*.svc.cluster.local:8080"}, "cn-north-4", "https://sim.cloudsim.svc.cluster.local:8080", ""},
		{[]string{"https://*.internal.example.com"}, "cn-north-4", "https://ecs.internal.example.com.", ""},
	}
	for _, tt := range tests {
		r := &EndpointResolver{Allowed: tt.allowed}
		got, err := r.Resolve(cloud.ServiceECS, tt.region, tt.spec)
		if tt.want == "" {
			if err == nil || !strings.Contains(err.Error(), "(allowed: "+strings.Join(tt.allowed, ", ")+")") {
				t.Errorf("%v %q: got %q, %v; want refused with the list", tt.allowed, tt.spec, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%v %q: got %q, %v; want %q", tt.allowed, tt.spec, got, err, tt.want)
		}
	}
}

func TestNormalizeBaseURL(t *testing.T) {
	tests := []struct {
		in, want string // want "" means an error
	}{
		{"https://ECS.cn-north-4.myhuaweicloud.com/", "https://ecs.cn-north-4.myhuaweicloud.com"},
		{" HTTPS://ecs.cn-north-4.myhuaweicloud.com:443 ", "https://ecs.cn-north-4.myhuaweicloud.com"},
		{"http://127.0.0.1:80", "http://127.0.0.1"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"https://[::1]:443", "https://[::1]"},
		{"https://[::1]:9443", "https://[::1]:9443"},
		{"https://xn--bcher-kva.example", "https://xn--bcher-kva.example"},
		{"https://bücher.example", ""},
		{"https://\u0130ms.example.com", ""},
		{"https://%e2%84%aams.example.com", ""},
		{"https://u@h.example.com", ""},
		{"https://h.example.com/p", ""},
		{"https://h.example.com?", ""},
		{"https://h.example.com#", "https://h.example.com"}, // an empty fragment is never sent
		{"https://h.example.com#f", ""},
		{"https://*.example.com", ""},
		{"ftp://h.example.com", ""},
		{"https://", ""},
		{"https:h.example.com", ""},
	}
	for _, tt := range tests {
		got, err := NormalizeBaseURL(tt.in)
		if (tt.want == "") != (err != nil) || got != tt.want {
			t.Errorf("NormalizeBaseURL(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

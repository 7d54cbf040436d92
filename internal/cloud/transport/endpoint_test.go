package transport

import (
	"strings"
	"testing"

	"github.com/cloudop/cloudop/internal/cloud"
)

func TestDefaultEndpoint(t *testing.T) {
	tests := []struct {
		service cloud.Service
		region  string
		want    string
		wantErr bool
	}{
		{cloud.ServiceCCE, "cn-north-4", "https://cce.cn-north-4.myhuaweicloud.com", false},
		{cloud.ServiceBCS, "cn-east-2", "https://bcs.cn-east-2.myhuaweicloud.com", false},
		{cloud.ServiceAOS, "ap-southeast-1", "https://aos.ap-southeast-1.myhuaweicloud.com", false},
		{cloud.ServiceDWS, "cn-north-4", "https://dws.cn-north-4.myhuaweicloud.com", false},
		{cloud.ServiceCCE, "eu-west-101", "https://cce.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceDWS, "eu-west-101", "https://dws.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceAOS, "eu-west-102", "https://aos.eu-west-102.myhuaweicloud.eu", false},
		{cloud.ServiceCCE, "eu-west-0", "https://cce.eu-west-0.myhuaweicloud.com", false},
		{cloud.ServiceDWS, "tr-west-1", "https://dws.tr-west-1.myhuaweicloud.cn", false},
		{cloud.ServiceDWS, "cn-south-4", "https://dws.cn-south-4.myhuaweicloud.cn", false},
		{cloud.ServiceCCE, "cn-east-4", "https://cce.cn-east-4.myhuaweicloud.com", false},
		{cloud.ServiceECS, "cn-north-4", "https://ecs.cn-north-4.myhuaweicloud.com", false},
		{cloud.ServiceEVS, "ap-southeast-1", "https://evs.ap-southeast-1.myhuaweicloud.com", false},
		{cloud.ServiceIMS, "cn-east-3", "https://ims.cn-east-3.myhuaweicloud.com", false},
		{cloud.ServiceBMS, "cn-south-1", "https://bms.cn-south-1.myhuaweicloud.com", false},
		{cloud.ServiceVPC, "la-north-2", "https://vpc.la-north-2.myhuaweicloud.com", false},
		{cloud.ServiceECS, "eu-west-101", "https://ecs.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceEVS, "eu-west-101", "https://evs.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceIMS, "eu-west-101", "https://ims.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceBMS, "eu-west-101", "https://bms.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceVPC, "eu-west-101", "https://vpc.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceVPC, "eu-west-0", "https://vpc.eu-west-0.myhuaweicloud.com", false},
		{cloud.ServiceDWS, "eu-west-0", "https://dws.eu-west-0.myhuaweicloud.com", false},
		{cloud.ServiceECS, "tr-west-1", "https://ecs.tr-west-1.myhuaweicloud.com", false},
		// The database services: the SDK's host labels, .eu in eu-west-101.
		{cloud.ServiceRDS, "cn-north-4", "https://rds.cn-north-4.myhuaweicloud.com", false},
		{cloud.ServiceRDS, "eu-west-101", "https://rds.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceRDS, "eu-west-0", "https://rds.eu-west-0.myhuaweicloud.com", false},
		{cloud.ServiceDDS, "cn-north-4", "https://dds.cn-north-4.myhuaweicloud.com", false},
		{cloud.ServiceDDS, "eu-west-101", "https://dds.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceGaussDB, "cn-north-4", "https://gaussdb.cn-north-4.myhuaweicloud.com", false},
		{cloud.ServiceGaussDB, "ap-southeast-1", "https://gaussdbformysql.ap-southeast-1.myhuaweicloud.com", false},
		{cloud.ServiceGaussDB, "la-north-2", "https://gaussdb-mysql.la-north-2.myhuaweicloud.com", false},
		{cloud.ServiceGaussDB, "eu-west-101", "https://gaussdb.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceGaussDBforOpenGauss, "cn-north-4", "https://gaussdb-opengauss.cn-north-4.myhuaweicloud.com", false},
		{cloud.ServiceGaussDBforOpenGauss, "tr-west-1", "https://gaussdb.tr-west-1.myhuaweicloud.com", false},
		{cloud.ServiceGaussDBforOpenGauss, "eu-west-101", "https://gaussdb-opengauss.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceGaussDBforNoSQL, "cn-north-4", "https://gaussdb-nosql.cn-north-4.myhuaweicloud.com", false},
		{cloud.ServiceGaussDBforNoSQL, "eu-west-101", "https://gaussdb-nosql.eu-west-101.myhuaweicloud.eu", false},
		{cloud.ServiceGaussDBforNoSQL, "tr-west-1", "https://gaussdb-nosql.tr-west-1.myhuaweicloud.com", false},
		// RFS: rfs.{region}, but aos.myhuaweicloud.eu (no region) in
		// eu-west-101, as the SDK's aos region table says.
		{cloud.ServiceRFS, "cn-north-4", "https://rfs.cn-north-4.myhuaweicloud.com", false},
		{cloud.ServiceRFS, "ap-southeast-1", "https://rfs.ap-southeast-1.myhuaweicloud.com", false},
		{cloud.ServiceRFS, "tr-west-1", "https://rfs.tr-west-1.myhuaweicloud.com", false},
		{cloud.ServiceRFS, "eu-west-101", "https://aos.myhuaweicloud.eu", false},
		{cloud.ServiceRFS, "eu-west-0", "https://rfs.eu-west-0.myhuaweicloud.com", false},
		{cloud.ServiceRFS, "", "", true},
		{cloud.ServiceRFS, "EU-WEST-101", "", true},
		{cloud.ServiceCCE, "", "", true},
		{cloud.ServiceCCE, "evil.com/x", "", true},
		{cloud.ServiceCCE, "CN-NORTH-4", "", true},
		{cloud.ServiceCCE, "cn-north-4.attacker.com#", "", true},
	}
	for _, tt := range tests {
		got, err := DefaultEndpoint(tt.service, tt.region)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("DefaultEndpoint(%s, %q) = %q, %v; want %q (err %v)", tt.service, tt.region, got, err, tt.want, tt.wantErr)
		}
		if err != nil && cloud.KindOf(err) != cloud.KindPermanent {
			t.Errorf("error kind %v, want Permanent", cloud.KindOf(err))
		}
	}
}

func TestEndpointResolverResolve(t *testing.T) {
	overrides := map[cloud.Service]string{cloud.ServiceCCE: "http://127.0.0.1:8080/"}
	tests := []struct {
		name     string
		r        *EndpointResolver
		service  cloud.Service
		region   string // "" means cn-north-4
		spec     string
		want     string
		wantErr  string
		wantKind cloud.ErrorKind
	}{
		{name: "regional default", r: &EndpointResolver{}, service: cloud.ServiceDWS, want: "https://dws.cn-north-4.myhuaweicloud.com"},
		{name: "nil resolver", r: nil, service: cloud.ServiceCCE, want: "https://cce.cn-north-4.myhuaweicloud.com"},
		{name: "override", r: &EndpointResolver{Overrides: overrides}, service: cloud.ServiceCCE, want: "http://127.0.0.1:8080"},
		{name: "override other service unaffected", r: &EndpointResolver{Overrides: overrides}, service: cloud.ServiceBCS, want: "https://bcs.cn-north-4.myhuaweicloud.com"},
		{name: "spec endpoint in default allowlist", r: &EndpointResolver{Overrides: overrides}, service: cloud.ServiceCCE,
			spec: "https://CCE.cn-north-4.myhuaweicloud.com/", want: "https://cce.cn-north-4.myhuaweicloud.com"},
		{name: "spec endpoint .eu", r: nil, service: cloud.ServiceCCE, region: "eu-west-101", spec: "https://cce.eu-west-101.myhuaweicloud.eu", want: "https://cce.eu-west-101.myhuaweicloud.eu"},
		{name: "spec endpoint in another region refused", r: nil, service: cloud.ServiceCCE, spec: "https://cce.eu-west-101.myhuaweicloud.eu", wantErr: "not allowed", wantKind: cloud.KindPermanent},
		{name: "spec endpoint explicit 443", r: nil, service: cloud.ServiceCCE, spec: "https://cce.cn-north-4.myhuaweicloud.com:443", want: "https://cce.cn-north-4.myhuaweicloud.com"},
		{name: "spec endpoint other port refused", r: nil, service: cloud.ServiceCCE, spec: "https://cce.cn-north-4.myhuaweicloud.com:8443", wantErr: "spec.endpoint", wantKind: cloud.KindPermanent},
		{name: "spec endpoint http refused by default", r: nil, service: cloud.ServiceCCE, spec: "http://cce.cn-north-4.myhuaweicloud.com", wantErr: "not allowed", wantKind: cloud.KindPermanent},
		{name: "spec endpoint apex refused", r: nil, service: cloud.ServiceCCE, spec: "https://myhuaweicloud.com", wantErr: "not allowed", wantKind: cloud.KindPermanent},
		{name: "spec endpoint lookalike refused", r: nil, service: cloud.ServiceCCE, spec: "https://evilmyhuaweicloud.com", wantErr: "not allowed", wantKind: cloud.KindPermanent},
		{name: "spec endpoint suffix trick refused", r: nil, service: cloud.ServiceCCE, spec: "https://cce.myhuaweicloud.com.evil.io", wantErr: "not allowed", wantKind: cloud.KindPermanent},
		{name: "spec endpoint metadata IP refused", r: nil, service: cloud.ServiceCCE, spec: "http://169.254.169.254", wantErr: "not allowed", wantKind: cloud.KindPermanent},
		{name: "spec endpoint with path refused", r: nil, service: cloud.ServiceCCE, spec: "https://cce.cn-north-4.myhuaweicloud.com/api", wantErr: "not a valid base URL", wantKind: cloud.KindPermanent},
		{name: "spec endpoint with userinfo refused", r: nil, service: cloud.ServiceCCE, spec: "https://u:p@cce.cn-north-4.myhuaweicloud.com", wantErr: "not a valid base URL", wantKind: cloud.KindPermanent},
		{name: "spec endpoint ftp refused", r: nil, service: cloud.ServiceCCE, spec: "ftp://cce.cn-north-4.myhuaweicloud.com", wantErr: "not a valid base URL", wantKind: cloud.KindPermanent},
		{name: "custom exact http pattern", r: &EndpointResolver{Allowed: []string{"http://127.0.0.1:8080"}}, service: cloud.ServiceCCE,
			spec: "http://127.0.0.1:8080", want: "http://127.0.0.1:8080"},
		{name: "custom exact pattern other port refused", r: &EndpointResolver{Allowed: []string{"http://127.0.0.1:8080"}}, service: cloud.ServiceCCE,
			spec: "http://127.0.0.1:8081", wantErr: "not allowed", wantKind: cloud.KindPermanent},
		{name: "custom wildcard http", r: &EndpointResolver{Allowed: []string{"http://*.svc.cluster.local:8080"}}, service: cloud.ServiceCCE,
			spec: "http://sim.cloudsim.svc.cluster.local:8080", want: "http://sim.cloudsim.svc.cluster.local:8080"},
		{name: "custom list replaces default", r: &EndpointResolver{Allowed: []string{"http://127.0.0.1:8080"}}, service: cloud.ServiceCCE,
			spec: "https://cce.cn-north-4.myhuaweicloud.com", wantErr: "not allowed", wantKind: cloud.KindPermanent},
		{name: "empty allowlist forbids spec endpoint", r: &EndpointResolver{Allowed: []string{}}, service: cloud.ServiceCCE,
			spec: "https://cce.cn-north-4.myhuaweicloud.com", wantErr: "not allowed", wantKind: cloud.KindPermanent},
		{name: "too-broad wildcard never matches", r: &EndpointResolver{Allowed: []string{"https://*.com"}}, service: cloud.ServiceCCE,
			spec: "https://evil.com", wantErr: "not allowed", wantKind: cloud.KindPermanent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			region := tt.region
			if region == "" {
				region = "cn-north-4"
			}
			got, err := tt.r.Resolve(tt.service, region, tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || cloud.KindOf(err) != tt.wantKind {
					t.Fatalf("got %q, %v; want error containing %q of kind %v", got, err, tt.wantErr, tt.wantKind)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestEndpointResolverValidate(t *testing.T) {
	good := &EndpointResolver{Overrides: map[cloud.Service]string{cloud.ServiceAOS: "https://aos.example.com"}, Allowed: []string{"https://*.example.com", "http://127.0.0.1:8080"}}
	if err := good.Validate(); err != nil {
		t.Error(err)
	}
	for _, r := range []*EndpointResolver{
		{Allowed: []string{"*.example.com"}},
		{Allowed: []string{"https://*.com"}},
		{Allowed: []string{"https://example.com/path"}},
		{Overrides: map[cloud.Service]string{cloud.ServiceCCE: "cce.example.com"}},
	} {
		if err := r.Validate(); err == nil {
			t.Errorf("%+v: want an error", r)
		}
	}
}

func TestParseServiceEndpoint(t *testing.T) {
	tests := []struct {
		in      string
		svc     cloud.Service
		url     string
		wantErr bool
	}{
		{"CCE=http://127.0.0.1:8080", cloud.ServiceCCE, "http://127.0.0.1:8080", false},
		{"dws=https://dws.example.com/", cloud.ServiceDWS, "https://dws.example.com", false},
		{" AOS = https://aos.cn-north-4.myhuaweicloud.com", cloud.ServiceAOS, "https://aos.cn-north-4.myhuaweicloud.com", false},
		{"BCS=https://[::1]:9443", cloud.ServiceBCS, "https://[::1]:9443", false},
		{"ECS=https://ecs.example.com", cloud.ServiceECS, "https://ecs.example.com", false},
		{"evs=http://127.0.0.1:8081", cloud.ServiceEVS, "http://127.0.0.1:8081", false},
		{"IMS=https://ims.example.com", cloud.ServiceIMS, "https://ims.example.com", false},
		{"BMS=https://bms.example.com", cloud.ServiceBMS, "https://bms.example.com", false},
		{"VPC=https://vpc.example.com", cloud.ServiceVPC, "https://vpc.example.com", false},
		{"EIP=https://vpc.example.com", "", "", true},
		{"RDS=https://rds.example.com", cloud.ServiceRDS, "https://rds.example.com", false},
		{"gaussdb=https://gaussdb.example.com", cloud.ServiceGaussDB, "https://gaussdb.example.com", false},
		{"GAUSSDBFOROPENGAUSS=https://gaussdb-opengauss.example.com", cloud.ServiceGaussDBforOpenGauss, "https://gaussdb-opengauss.example.com", false},
		{"GaussDBforNoSQL=https://gaussdb-nosql.example.com", cloud.ServiceGaussDBforNoSQL, "https://gaussdb-nosql.example.com", false},
		{"GaussDB-NoSQL=https://gaussdb-nosql.example.com", "", "", true},
		{"CCE", "", "", true},
		{"CCE=", "", "", true},
		{"CCE=127.0.0.1:8080", "", "", true},
		{"CCE=https://x.example.com/v3", "", "", true},
	}
	for _, tt := range tests {
		svc, u, err := ParseServiceEndpoint(tt.in)
		if (err != nil) != tt.wantErr || svc != tt.svc || u != tt.url {
			t.Errorf("ParseServiceEndpoint(%q) = %q, %q, %v", tt.in, svc, u, err)
		}
	}
}

package cloudsim

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestExampleScenarioFile(t *testing.T) {
	cfg, err := LoadConfig("testdata/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Settings.Speed != 60 || cfg.Settings.StepDuration.Duration != 30*time.Second || cfg.Settings.RateLimit.Burst != 40 ||
		len(cfg.Settings.Faults) != 1 || cfg.Settings.Faults[0].Latency.Duration != 50*time.Millisecond {
		t.Errorf("settings %+v", cfg.Settings)
	}
	if len(cfg.Accounts) != 2 || cfg.Accounts[1].SecurityToken != "sim-token" {
		t.Errorf("accounts %+v", cfg.Accounts)
	}
	if len(cfg.Operations) != 5 || cfg.Operations[1].Params.ResumeAfter.Duration != 5*time.Minute ||
		cfg.Operations[3].Steps[0].SubSteps[1].Duration.Duration != 20*time.Minute || cfg.Operations[3].StartedAgo.Duration != 2*time.Minute {
		t.Errorf("operations %+v", cfg.Operations)
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(sim.Operations("")); n != 8 {
		t.Errorf("%d operations, want 5 + 3 from the template", n)
	}
	if st, err := sim.Operation(CCE, "bench-2"); err != nil || st.Scenario != ScenarioNever {
		t.Errorf("template operation: %+v, %v", st, err)
	}

	// The documentation shows this very file.
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "cloudsim.md"))
	if err != nil {
		t.Fatalf("docs/cloudsim.md must be readable to compare it with the example: %v", err)
	}
	example, _ := os.ReadFile("testdata/example.yaml")
	body := string(example)
	body = body[strings.Index(body, "settings:"):]
	if !strings.Contains(string(doc), body) {
		t.Error("docs/cloudsim.md does not contain testdata/example.yaml (from settings: on); keep them in sync")
	}
}

func TestParseConfigErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"not YAML", "operations: [", "parse scenario"},
		{"unknown field", "settings: {sped: 2}", `unknown field "sped"`},
		{"bad duration", "settings: {clockSkew: soon}", `invalid duration "soon"`},
		{"negative speed", "settings: {speed: -1}", "settings: speed -1 must be a finite number >= 0"},
		{"account without secret", "accounts: [{accessKey: A, projectIDs: [p]}]", "accounts[0]: secretKey is required"},
		{"account without project", "accounts: [{accessKey: A, secretKey: S}]", "accounts[0]: projectIDs needs at least one project"},
		{"duplicate account", "accounts: [{accessKey: A, secretKey: S, projectIDs: [p]}, {accessKey: A, secretKey: T, projectIDs: [p]}]",
			`accounts[1]: duplicate accessKey "A"`},
		{"unknown service", "operations: [{service: XYZ, id: x, projectID: p}]", `operations[0]: service "XYZ" unknown`},
		{"missing id", "operations: [{service: BCS, projectID: p}]", "operations[0]: id is required"},
		{"CCE without cluster", "operations: [{service: CCE, id: w, projectID: p}]", "operations[0]: clusterID is required for a CCE upgrade workflow"},
		{"CCE upgrade workflow without cluster", "operations: [{service: CCE, type: UpgradeWorkflow, id: w, projectID: p}]", "clusterID is required for a CCE upgrade workflow"},
		{"unknown type", "operations: [{service: CCE, type: Workflow, id: w, projectID: p}]", `operations[0]: type "Workflow" unknown (want UpgradeWorkflow or Job)`},
		{"job type on AOS", "operations: [{service: AOS, type: Job, id: a, projectID: p, stackID: s}]", "type Job is only used by CCE, the classic job services (ECS, EVS, IMS, BMS and VPC) and the database services (RDS, GaussDB, DDS, GaussDBforOpenGauss and GaussDBforNoSQL), not AOS"},
		{"workflow type on ECS", "operations: [{service: ECS, type: UpgradeWorkflow, id: j, projectID: p}]", "type UpgradeWorkflow is only used by CCE, not ECS"},
		{"cancel a classic job", "operations: [{service: ECS, id: j, projectID: p, scenario: cancel}]",
			"operations[0]: scenario cancel is not available for ECS jobs: the job API has no cancelled status"},
		{"resume a classic job", "operations: [{service: VPC, id: j, projectID: p, scenario: resume}]",
			"scenario resume is not available for VPC jobs: only CCE upgrade workflows resume"},
		{"cancel a CCE job", "operations: [{service: CCE, type: Job, id: j, projectID: p, scenario: cancel}]",
			"scenario cancel is not available for CCE jobs (type: Job)"},
		{"resume a CCE job", "operations: [{service: CCE, type: Job, id: j, projectID: p, scenario: resume}]",
			"scenario resume is not available for CCE jobs (type: Job)"},
		{"cluster on a classic job", "operations: [{service: EVS, id: j, projectID: p, clusterID: c}]", "clusterID is not used by EVS"},
		{"sub-jobs of a classic sub-job", "operations: [{service: BMS, id: j, projectID: p, steps: [{name: s, subSteps: [{name: t}]}]}]",
			"steps[0]: the sub-jobs of a BMS job have no sub-jobs of their own (subSteps)"},
		{"same job ID in two classic services", "operations: [{service: ECS, id: j, projectID: p}, {service: IMS, id: j, projectID: q}]",
			`operations[1]: duplicate job ID "j" (also operations[0]): ECS, EVS, IMS, BMS and VPC jobs share one path`},
		{"steps of a database job", "operations: [{service: RDS, id: j, projectID: p, steps: [{name: s}]}]",
			"operations[0]: steps: RDS jobs have no steps (the job API reports none); a job runs for params.stepDuration"},
		{"params.step of a database job", "operations: [{service: GaussDB, id: j, projectID: p, scenario: fail, params: {step: 2}}]",
			"params.step and params.subStep do not apply to GaussDB jobs, which have no steps"},
		{"cancel a database job", "operations: [{service: DDS, id: j, projectID: p, scenario: cancel}]",
			"scenario cancel is not available for DDS jobs: the job API has no cancelled status"},
		{"resume a database job", "operations: [{service: GaussDBforNoSQL, id: j, projectID: p, scenario: resume}]",
			"scenario resume is not available for GaussDBforNoSQL jobs"},
		{"workflow type on RDS", "operations: [{service: RDS, type: UpgradeWorkflow, id: j, projectID: p}]", "type UpgradeWorkflow is only used by CCE, not RDS"},
		{"cluster on a database job", "operations: [{service: GaussDBforOpenGauss, id: j, projectID: p, clusterID: c}]", "clusterID is not used by GaussDBforOpenGauss"},
		{"same job ID in two database services", "operations: [{service: RDS, id: j, projectID: p}, {service: DDS, id: j, projectID: q}]",
			`operations[1]: duplicate job ID "j" (also operations[0]): RDS, GaussDB, DDS, GaussDBforOpenGauss and GaussDBforNoSQL jobs share one path`},
		{"service names are case-sensitive in files", "operations: [{service: rds, id: j, projectID: p}]", `service "rds" unknown`},
		{"AOS without stack", "operations: [{service: AOS, id: a, projectID: p}]", "operations[0]: stackID is required for service AOS"},
		{"stack on CCE", "operations: [{service: CCE, id: w, projectID: p, clusterID: c, stackID: s}]", "stackID is only used by AOS"},
		{"RFS without stack name", "operations: [{service: RFS, id: d, projectID: p}]", "operations[0]: stackName is required for service RFS"},
		{"stack name on AOS", "operations: [{service: AOS, id: a, projectID: p, stackID: s, stackName: n}]", "stackName is only used by RFS, not AOS (AOS takes params.stackName)"},
		{"bad stack name", "operations: [{service: RFS, id: d, projectID: p, stackName: 1st}]", `stackName "1st" must start with a letter`},
		{"dot in stack name", "operations: [{service: RFS, id: d, projectID: p, stackName: a.b}]", `stackName "a.b" has character '.'`},
		{"cancel an RFS deployment", "operations: [{service: RFS, id: d, projectID: p, stackName: s, scenario: cancel}]",
			"scenario cancel is not available for RFS: a deployment cannot be cancelled"},
		{"resume an RFS deployment", "operations: [{service: RFS, id: d, projectID: p, stackName: s, scenario: resume}]",
			"scenario resume is not available for RFS: continuing a failed deployment (ContinueDeployStack) starts a new deployment"},
		{"RFS rollback without failure", "operations: [{service: RFS, id: d, projectID: p, stackName: s, params: {rollback: 10s}}]",
			"params.rollback applies to an RFS deployment only with scenario fail"},
		{"RFS rollbackFails without rollback", "operations: [{service: RFS, id: d, projectID: p, stackName: s, scenario: fail, params: {rollbackFails: true}}]",
			"params.rollbackFails needs params.rollback for RFS"},
		{"RFS resource without address", "operations: [{service: RFS, id: d, projectID: p, stackName: s, steps: [{name: vpc}]}]",
			`steps[0]: resource "vpc" is not an address type.name`},
		{"RFS resource with sub-steps", "operations: [{service: RFS, id: d, projectID: p, stackName: s, steps: [{name: a.b, subSteps: [{name: c.d}]}]}]",
			"steps[0]: an RFS step is one resource of the stack and has no subSteps"},
		{"two deployments of one stack", "operations: [{service: RFS, id: d1, projectID: p, stackName: s}, {service: RFS, id: d2, projectID: p, stackName: s}]",
			`operations[1]: stack "s" of project p already has a deployment (operations[0])`},
		{"slash in id", "operations: [{service: BCS, id: a/b, projectID: p}]", `id "a/b" has character '/'`},
		{"unknown scenario", "operations: [{service: BCS, id: a, projectID: p, scenario: explode}]", `scenario "explode" unknown`},
		{"unknown param", "operations: [{service: BCS, id: a, projectID: p, params: {stpe: 2}}]", `unknown field "stpe"`},
		{"negative step", "operations: [{service: BCS, id: a, projectID: p, params: {step: -1}}]", "1-based"},
		{"nested sub-steps", "operations: [{service: BCS, id: a, projectID: p, steps: [{name: s, subSteps: [{name: t, subSteps: [{name: u}]}]}]}]",
			"steps[0].subSteps[0]: sub-steps cannot have sub-steps"},
		{"unnamed step", "operations: [{service: BCS, id: a, projectID: p, steps: [{duration: 1s}]}]", "steps[0]: name is required"},
		{"bad fault", "operations: [{service: BCS, id: a, projectID: p, faults: [{kind: boom}]}]", `operations[0]: faults[0]: unknown fault kind "boom"`},
		{"latency without duration", "settings: {faults: [{kind: latency}]}", "settings: faults[0]: latency fault needs a positive latency"},
		{"probability over 1", "settings: {faults: [{kind: reset, probability: 2}]}", "probability 2 out of range"},
		{"duplicate operation", "operations: [{service: BCS, id: a, projectID: p}, {service: BCS, id: a, projectID: q}]",
			`operations[1]: duplicate BCS operation "a" (also operations[0])`},
		{"same DWS action on two clusters is fine, twice on one is not",
			"operations: [{service: DWS, id: RESTORING, projectID: p, clusterID: a}, {service: DWS, id: RESTORING, projectID: p, clusterID: b}, {service: DWS, id: RESTORING, projectID: p, clusterID: a}]",
			`operations[2]: duplicate DWS operation "a/RESTORING"`},
		{"template clash", "operations: [{service: BCS, id: t-1, projectID: p}]\ntemplates: [{count: 2, operation: {service: BCS, id: t, projectID: p}}]",
			`templates[0] (index 1): duplicate BCS operation "t-1"`},
		{"template count", "templates: [{count: -1, operation: {service: BCS, id: t, projectID: p}}]", "templates[0]: template count -1 out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseConfigForms(t *testing.T) {
	// JSON works too, durations may be numbers of seconds, and an empty
	// file is an empty simulator.
	cfg, err := ParseConfig([]byte(`{"settings":{"stepDuration":1.5},"operations":[{"service":"BCS","id":"a","projectID":"p","startedAgo":"1h"}]}`))
	if err != nil || cfg.Settings.StepDuration.Duration != 1500*time.Millisecond || cfg.Operations[0].StartedAgo.Duration != time.Hour {
		t.Fatalf("%+v, %v", cfg, err)
	}
	if _, err := ParseConfig(nil); err != nil {
		t.Errorf("empty file: %v", err)
	}
	if _, err := LoadConfig("testdata/does-not-exist.yaml"); err == nil || !strings.Contains(err.Error(), "does-not-exist.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestTemplateExpand(t *testing.T) {
	ops, err := Template{Count: 3, Start: 1, Operation: OperationSpec{Service: CCE, ID: "wf", ProjectID: "p", ClusterID: "c"}}.Expand()
	if err != nil || len(ops) != 3 || ops[0].ID != "wf-1" || ops[2].ID != "wf-3" {
		t.Errorf("%+v, %v", ops, err)
	}
	ops, _ = Template{Count: 2, Operation: OperationSpec{Service: DWS, ID: "RESTORING", ProjectID: "p{{i}}", ClusterID: "c{{i}}"}}.Expand()
	if ops[1].ID != "RESTORING" || ops[1].ClusterID != "c1" || ops[1].ProjectID != "p1" || ops[1].Key() != "c1/RESTORING" {
		t.Errorf("%+v", ops)
	}
	// One deployment a stack: the stack name gets the index too.
	ops, _ = Template{Count: 2, Operation: OperationSpec{Service: RFS, ID: "dep", ProjectID: "p", StackName: "web"}}.Expand()
	if ops[1].ID != "dep-1" || ops[1].StackName != "web-1" {
		t.Errorf("%+v", ops)
	}
	if err := (Config{Templates: []Template{{Count: 3, Operation: OperationSpec{Service: RFS, ID: "d{{i}}", ProjectID: "p", StackName: "web"}}}}).Validate(); err != nil {
		t.Errorf("RFS template: %v", err)
	}
}

// TestExportedSymbolsDocumented keeps the promise that every exported
// declaration has a doc comment (a cheap stand-in for a linter).
func TestExportedSymbolsDocumented(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	decl := regexp.MustCompile(`^(func(?: \([^)]*\))? |type |var |const )([A-Z]\w*)`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		for i, l := range lines {
			m := decl.FindStringSubmatch(l)
			if m == nil {
				continue
			}
			if i == 0 || !strings.HasPrefix(lines[i-1], "//") {
				t.Errorf("%s:%d: exported %s has no doc comment", f, i+1, m[2])
			}
		}
	}
}

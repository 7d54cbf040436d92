// Package cloudsim is a local simulator of the Huawei Cloud "query the
// operation" APIs that cloudop polls (think LocalStack): BCS ListOpRecord,
// CCE ShowUpgradeWorkFlow, ListUpgradeWorkFlows and ShowJob, AOS stack
// executions, DWS ListClusterActions, the classic ShowJob of ECS, EVS,
// IMS, BMS and VPC, which share one path (a job is found by its ID), and
// the job query of the database services RDS, GaussDB, DDS,
// GaussDBforOpenGauss and GaussDBforNoSQL, which share another, and RFS
// stack deployments (GetStackMetadata and ListStackEvents, paged by
// marker). CTS ListTraces lists the audit trail of the jobs' creation, so
// that a client can discover jobs it did not start; an operation can
// start on its own later (OperationSpec.StartsIn).
//
// A Simulator is an http.Handler. It verifies SDK-HMAC-SHA256 signatures
// with its own verifier, answers with the JSON shapes of the public API
// reference, and derives every operation's state from elapsed (scalable)
// time and a scenario (success, fail, resume, cancel, never,
// unknown-status). Faults (latency, throttling, 5xx, connection resets,
// malformed bodies, 404, 401) can be injected per operation or globally, by
// probability or for "the next N requests", so retry paths are testable
// deterministically. Every request is counted per service and operation,
// and every list call per listed resource (ListCount).
//
// An unsigned admin API under /admin/ manages the simulator at run time;
// see docs/cloudsim.md. Tests embed the simulator with httptest and inject
// a clock (WithClock) so that the state at any instant is reproducible.
package cloudsim

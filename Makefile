# cloudop — see README.md. `make help` lists the targets.

K8S_VERSION  ?= v1.37.2
ETCD_VERSION ?= v3.7.3
ASSETS_DIR   ?= $(CURDIR)/bin/k8s/$(K8S_VERSION)-etcd-$(ETCD_VERSION)
KUBECTL      := $(ASSETS_DIR)/kubectl
HELM_VERSION ?= v4.3.1
HELM         := $(CURDIR)/bin/helm/$(HELM_VERSION)/helm
# The chart linters test/chart runs on every render (TestKubeScore,
# TestKubeconform); they skip without them, except in CI.
KUBE_SCORE_VERSION  ?= v1.20.0
KUBE_SCORE          := $(CURDIR)/bin/kube-score/$(KUBE_SCORE_VERSION)/kube-score
KUBECONFORM_VERSION ?= v0.8.0
KUBECONFORM         := $(CURDIR)/bin/kubeconform/$(KUBECONFORM_VERSION)/kubeconform
# promtool checks and unit-tests the chart's alert rules (TestPromtoolRules);
# the version is github.com/prometheus/prometheus's Go module version
# (v0.316.0 is Prometheus v3.16.0).
PROMTOOL_VERSION    ?= v0.316.0
PROMTOOL            := $(CURDIR)/bin/promtool/$(PROMTOOL_VERSION)/promtool
CHART        := charts/cloudop
CONTROLLER_GEN := go tool controller-gen
GO_TEST_FLAGS ?=

export GOTOOLCHAIN := local
export KUBEBUILDER_ASSETS := $(ASSETS_DIR)
# The chart tests (test/chart) run this helm.
export HELM
export KUBE_SCORE KUBECONFORM PROMTOOL

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_-]+:.*?##/ { printf "  %-12s %s\n", $$1, $$2 } /^##@/ { printf "\n%s\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

# api/ is its own module (github.com/cloudop/cloudop/api, replaced by ./api in
# go.mod), so controller-gen, run from the root module, names it by import path:
# "./api/..." would not resolve outside the main module.
# The chart renders the same CRDs and manager rules from copies in
# $(CHART)/files/generated, so it cannot drift from config/.
.PHONY: manifests
manifests: ## Generate the CRD and RBAC manifests from markers (config/ and the chart's copies).
	$(CONTROLLER_GEN) rbac:roleName=cloudop-manager crd paths="github.com/cloudop/cloudop/api/...;./internal/controller/..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac
	rm -rf $(CHART)/files/generated && mkdir -p $(CHART)/files/generated/crds
	cp config/crd/bases/*.yaml $(CHART)/files/generated/crds/
	cp config/rbac/role.yaml $(CHART)/files/generated/manager-role.yaml

.PHONY: generate
generate: ## Generate deepcopy code.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths="github.com/cloudop/cloudop/api/..."

.PHONY: verify
verify: generate manifests ## Regenerate and fail if the tree changed; gofmt and vet.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	go vet ./...
	cd api && go vet ./...
	cd examples/waiter && go vet ./...
	cd test/install && go vet ./...
	cd test/tracing && go vet ./...
	@git diff --exit-code -- api config charts || { echo "generated files are stale: run make generate manifests"; exit 1; }
	@test -z "$$(git status --porcelain -- api config charts)" || { git status --porcelain -- api config charts; echo "untracked generated files"; exit 1; }

.PHONY: fmt
fmt: ## gofmt the code.
	gofmt -w $$(git ls-files '*.go')

.PHONY: tools
tools: $(ASSETS_DIR)/kube-apiserver $(ASSETS_DIR)/etcd $(ASSETS_DIR)/kubectl $(HELM) $(KUBE_SCORE) $(KUBECONFORM) $(PROMTOOL) ## Build kube-apiserver, etcd, kubectl, helm, kube-score, kubeconform and promtool into bin/ (once per version).

# One binary per target, so that make release builds kubectl alone.
$(ASSETS_DIR)/kube-apiserver $(ASSETS_DIR)/etcd $(ASSETS_DIR)/kubectl:
	K8S_VERSION=$(K8S_VERSION) ETCD_VERSION=$(ETCD_VERSION) hack/build-k8s-tools.sh $(ASSETS_DIR) $(notdir $@)

$(HELM):
	HELM_VERSION=$(HELM_VERSION) hack/build-helm.sh $(dir $(HELM))

.PHONY: lint-tools
lint-tools: $(KUBE_SCORE) $(KUBECONFORM) $(PROMTOOL) ## Build kube-score, kubeconform and promtool into bin/ (once per version), which test/chart runs on every chart render and on the alert rules.

$(KUBE_SCORE):
	KUBE_SCORE_VERSION=$(KUBE_SCORE_VERSION) hack/build-kube-score.sh $(dir $(KUBE_SCORE))

$(KUBECONFORM):
	KUBECONFORM_VERSION=$(KUBECONFORM_VERSION) hack/build-kubeconform.sh $(dir $(KUBECONFORM))

$(PROMTOOL):
	PROMTOOL_VERSION=$(PROMTOOL_VERSION) hack/build-promtool.sh $(dir $(PROMTOOL))

# The three groups run side by side, each one's output printed whole when
# it ends: the process tests (test/e2e, test/resilience) mostly wait on
# simulated operations, so the CPU-bound packages and the install e2e
# fill that time. Every fuzz target's seed corpus runs as a plain test;
# the search itself (an instrumented build per target) is `make fuzz`.
.PHONY: test
test: tools ## Run every test: packages against a real control plane (envtest) and cloudsim, the process e2e, the install e2e (Docker).
	$(MAKE) --no-print-directory -j3 --output-sync=recurse test-packages test-processes test-install

# The packages of the root module other than the process tests, and the
# API, example and tracing modules (test/tracing holds the Collector's
# OTLP receiver, kept out of the operator's module graph).
PROCESS_TESTS := test/e2e test/resilience

.PHONY: test-packages
test-packages: tools ## Run the unit and envtest tests of every package (not the process or install e2e).
	cd api && go test $(GO_TEST_FLAGS) ./...
	cd examples/waiter && go test $(GO_TEST_FLAGS) ./...
	cd test/tracing && go test $(GO_TEST_FLAGS) ./...
	go test $(GO_TEST_FLAGS) $$(go list ./... | grep -v $(foreach p,$(PROCESS_TESTS),-e '/$(p)$$'))

.PHONY: test-processes
test-processes: tools ## Run the process e2e: the demo's manager in-process (test/e2e) and managers as killed, restarted and elected processes (test/resilience).
	go test $(GO_TEST_FLAGS) $(addprefix ./,$(PROCESS_TESTS))

.PHONY: test-resilience-long
test-resilience-long: tools ## 48 manager kills (4 rounds × 12), about 10 minutes.
	RESILIENCE_LONG=1 go test -count=1 -timeout 30m -run TestManagerKills -v ./test/resilience/

.PHONY: fuzz
FUZZTIME ?= 2m

fuzz: ## Run every fuzz target for FUZZTIME (2m by default; FUZZTIME=3s for a smoke run).
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

##@ Helm chart

.PHONY: chart-lint
chart-lint: $(HELM) ## helm lint the chart (default values).
	$(HELM) lint --strict $(CHART)

# -v so the output shows whether the container steps ran or were skipped.
.PHONY: test-install
test-install: tools ## Build a release bundle, install it with Helm and run the manager image as its pod would run (test/install).
	cd test/install && go test $(GO_TEST_FLAGS) -v -count=1 -timeout 20m ./...

.PHONY: chart-test
chart-test: tools ## Lint, golden renders, schema and drift checks of the chart, applied to a real kube-apiserver.
	go test $(GO_TEST_FLAGS) -count=1 ./test/chart/

.PHONY: chart-schema
chart-schema: tools ## Rewrite the Kubernetes type definitions of the chart's values.schema.json from the test kube-apiserver's OpenAPI.
	go test -count=1 ./test/chart/ -run TestValuesSchemaKubeTypes -update

.PHONY: chart-golden
chart-golden: tools ## Rewrite the chart's golden renders (test/chart/testdata/golden) after a deliberate change.
	go test -count=1 ./test/chart/ -run TestGolden -update

##@ Benchmarks

.PHONY: bench
bench: tools build ## Run the scale benchmark (N=1,000 and 10,000) and write docs/benchmarks.md.
	go run ./test/bench $(BENCH_FLAGS)

##@ Build and run

.PHONY: demo
demo: tools ## Run the demo: local control plane, cloudsim and the manager, one operation per service.
	go run ./cmd/demo $(DEMO_FLAGS)

.PHONY: build
build: ## Build the manager and cloudsim into bin/.
	go build -o bin/manager ./cmd/manager
	go build -o bin/cloudsim ./cmd/cloudsim
	go build -o bin/demo ./cmd/demo
	go build -o bin/kubectl-cloudop ./cmd/kubectl-cloudop

VERSION           ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT            ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

.PHONY: image
image: ## Build the manager and cloudsim image indexes (linux/amd64, linux/arm64) as OCI layouts in dist/, pulling nothing.
	go run ./hack/imagebuild -out dist -version $(VERSION) -commit $(COMMIT) -source-date-epoch $(SOURCE_DATE_EPOCH)

.PHONY: release
# VERSION is checked before anything is built; only what the bundle needs
# is built (kubectl renders install.yaml, helm packages the chart); every
# archive entry carries SOURCE_DATE_EPOCH, so two runs on one commit give
# the same SHA256SUMS.
release: $(KUBECTL) $(HELM) ## Build the release bundle for VERSION=vX.Y.Z in dist/release/VERSION: image archives, install.yaml, chart, SHA256SUMS (reproducible).
	go run ./hack/release -check -version $(VERSION)
	$(MAKE) --no-print-directory image
	go run ./hack/release -version $(VERSION) -layouts dist -out dist/release/$(VERSION) -kubectl $(KUBECTL) -helm $(HELM) -source-date-epoch $(SOURCE_DATE_EPOCH)

.PHONY: clean
clean: ## Remove dist/.
	rm -rf dist

.PHONY: run
run: manifests ## Run the manager against the current kubeconfig.
	go run ./cmd/manager

.PHONY: install
install: manifests ## Install the CRD into the current kubeconfig's cluster.
	$(KUBECTL) apply -f config/crd/bases

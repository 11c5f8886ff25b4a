# zookeeper_exporter. `make demo` runs it against a local ensemble,
# `make test` runs every test (real ZooKeeper included).
GO        ?= go
BIN       := zookeeper_exporter
VERSION   := $(shell cat VERSION)
REVISION  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
BRANCH    := $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
VPKG      := github.com/prometheus/common/version
LDFLAGS   := -s -w -X $(VPKG).Version=$(VERSION) -X $(VPKG).Revision=$(REVISION) \
             -X $(VPKG).Branch=$(BRANCH) -X $(VPKG).BuildUser=make -X $(VPKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
ZK_JAR    := /usr/share/java/zookeeper.jar

.PHONY: all build release test unit vet fmt demo bench bench-smoke fuzz mixin deps-test deps-zookeeper clean

all: vet build test

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) .

# Cross builds with version information, as tarballs with checksums.
PLATFORMS ?= linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
release:
	@rm -rf dist && mkdir -p dist
	@for p in $(PLATFORMS); do os=$${p%/*}; arch=$${p#*/}; d=$(BIN)-$(VERSION).$$os-$$arch; \
	  echo "building $$d"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o dist/$$d/$(BIN) . || exit 1; \
	  cp README.md CHANGELOG.md dist/$$d/; tar -C dist -czf dist/$$d.tar.gz $$d; rm -rf dist/$$d; \
	done
	@cd dist && sha256sum *.tar.gz > sha256sums.txt && cat sha256sums.txt

vet:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "$$out"; echo "gofmt: files above need formatting"; exit 1; fi
	$(GO) vet ./...

# Everything: parsers, collector goldens, and the real-ensemble scenarios.
# ZK_REQUIRED=1 turns "ZooKeeper not installed" into a failure, not a skip.
test: deps-test vet
	ZK_REQUIRED=1 $(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) bench-smoke
	cd deploy/kubernetes/check && ZK_REQUIRED=1 $(GO) test -count=1 ./...

# Render the monitoring mixin (mixin/) into the files shipped from it:
# deploy/prometheus/zookeeper_alerts.yml, the PrometheusRule, the Helm
# chart's copies and dashboards/*.json. Commit them; make test fails when
# they differ from what mixin/ renders. The renderer (go-jsonnet) lives in
# the test-only module, out of the exporter's go.mod.
mixin:
	cd deploy/kubernetes/check && $(GO) test -count=1 -run '^TestMixinGenerated$$' . -args -update

# Unit tests only (no JVM needed).
unit:
	$(GO) test -race -count=1 -short ./fourletter/ ./config/ ./collector/

# Install what the tests (or the demo) need when it is missing: Debian's
# ZooKeeper and Java, Prometheus and promtool, Alertmanager and amtool,
# systemd-analyze. Needs root or sudo only when something is missing.
deps-test:
	@./scripts/deps.sh test

deps-zookeeper:
	@./scripts/deps.sh demo

# A local 3 voters + 1 observer ensemble and the exporter on 127.0.0.1:9141.
demo: deps-zookeeper build
	$(GO) run ./internal/cmd/zkdemo -exporter ./$(BIN) -listen 127.0.0.1:9141

# Parsing, exposition, and whole scrapes: a real 3+1 ensemble beside the
# raw parallel 4lw floor, 2 hung members of 5, 1,000 fake members answering
# real 3.8 replies (each choice of what to expose), /probe at 15 req/s for a
# minute. Prints one table of the goals (figure, met or not, load average);
# docs/performance.md has the figures of a run and how to read them.
bench: deps-zookeeper
	ZK_REQUIRED=1 ./scripts/bench.sh

# The benchmarks as a smoke run (part of make test, a few seconds): each
# runs once, the scale ones over 20 members and a 2 s probe load, with the
# same checks (every member up) and no figure kept. The real-ensemble
# benchmarks are left to make bench (the integration tests start real
# ensembles already).
BENCH_SMOKE := ScrapeHandler4Members|ScrapeTwoHung|Scrape1000Members|Probe1000Members
bench-smoke:
	$(GO) test -race -count=1 -run '^$$' -bench . -benchtime 1x ./fourletter/ ./collector/ >/dev/null
	ZK_BENCH_SMOKE=1 $(GO) test -race -count=1 -run '^$$' -bench '$(BENCH_SMOKE)' -benchtime 1x .

# Fuzz every parser and the exposition, FUZZTIME each (CI runs only the
# seed corpus, as part of make test). A crasher lands in testdata/fuzz/.
FUZZTIME ?= 5m
FUZZ_TARGETS := fourletter:FuzzParseMntr fourletter:FuzzParseSrvr fourletter:FuzzParseConf \
                fourletter:FuzzParseRuok collector:FuzzExposition
fuzz:
	@for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; fn=$${t##*:}; \
	  echo "== $$fn ($$pkg, $(FUZZTIME))"; \
	  $(GO) test ./$$pkg -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -parallel $${FUZZ_PARALLEL:-1} 2>&1 | tail -4 || exit 1; \
	done

clean:
	rm -rf $(BIN) .demo dist

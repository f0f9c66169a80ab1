# Set-up, demo and tests. Every target works on a fresh clone: `make demo` and `make test`
# create the virtual environment first (once: a stamp file records a finished install).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.tonematch-installed

.PHONY: venv warmup demo test bench clean distclean

venv: $(STAMP)

# torch first, pinned: 2.13.0 is the CPU build; left to the dependency resolver, pip would pick
# the newest CUDA build (several GB). Reinstalls when pyproject.toml changes.
# Then one render, analysis and match (the network, a short refinement) of the example compile
# every numba kernel they use once
# (cache=True: kept in __pycache__ beside the sources), so the first real command starts warm.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -e '.[train,test]'
	$(MAKE) warmup
	touch $@

warmup:
	$(BIN)/tonematch render examples/mix.flac --params examples/settings.json -o $(VENV)/.warmup.wav -f > /dev/null
	$(BIN)/tonematch analyze examples/mix.flac > /dev/null
	$(BIN)/tonematch match examples/mix.flac --reference examples/reference.flac -o $(VENV)/.warmup-match.wav \
		--steps 5 -f > /dev/null
	rm -f $(VENV)/.warmup.wav $(VENV)/.warmup.json $(VENV)/.warmup-match.wav $(VENV)/.warmup-match.json

demo: venv
	mkdir -p out
	$(BIN)/tonematch match examples/mix.flac --reference examples/reference.flac -o out/mix_mastered.wav --report --overwrite
	$(BIN)/tonematch analyze out/mix_mastered.wav

# -q comes from pyproject's addopts: a second -q would hide pytest's closing summary line.
test: venv
	$(BIN)/python -m pytest

bench: venv
	@set -e; for script in benchmarks/*.py; do \
		[ -f "$$script" ] || continue; \
		echo "== $$script"; $(BIN)/python "$$script"; \
	done

# Generated files only; the environment stays (distclean removes it too). The numba kernel cache
# lives in __pycache__ too: `make warmup` compiles it again.
clean:
	rm -rf out .pytest_cache .ruff_cache build
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) *.egg-info

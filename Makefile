# quorumlab: every target sets up what it needs, from nothing, in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
FUZZ_STAMP := $(VENV)/.installed-fuzz
FUZZ_SECONDS ?= 60
SOURCES_THAT_NEED_REINSTALL := pyproject.toml setup.py $(wildcard core/*.pyx core/*.pxd core/check/*.pyx) $(wildcard examples/plugin/pyproject.toml)

.PHONY: test test-browser test-twins bench bench-micro campaign fuzz clean help

help:
	@echo "make test         create .venv, install quorumlab with test extras, run the test suite"
	@echo "make test-browser the browser tests of bench web (tests/web, headless chromium): fail, not skip, without it"
	@echo "make test-twins   the same suite (browser tests aside) on the pure-Python twins (QUORUMLAB_PURE_PYTHON=1), as CI runs it"
	@echo "make bench        create .venv, install quorumlab, run the main benchmark (bench compare)"
	@echo "make bench-micro  pytest-benchmark micro-benchmarks, JSON report in .benchmarks/"
	@echo "make campaign     the long seeded simulation campaigns (safety and liveness)"
	@echo "make fuzz         atheris on every fuzz target in tests/fuzz/, FUZZ_SECONDS (default 60) each;"
	@echo "                  fails on a crash and saves its input to tests/fuzz/regressions/<target>/"
	@echo "make clean        remove .venv and build products"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python $(SOURCES_THAT_NEED_REINSTALL)
	$(BIN)/python -m pip install --quiet "Cython>=3.0" "setuptools>=77" wheel
	$(BIN)/python -m pip install --quiet --no-build-isolation -e ".[test,plots,web,browser,dask]"
	$(BIN)/python -m pip install --quiet --no-build-isolation -e examples/plugin
	@$(BIN)/python -c "import quorumlab.core, sys; print('quorumlab core accelerated:', quorumlab.core.ACCELERATED)"
	@touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not campaign" ; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here"; exit 1; fi; exit $$rc

test-browser: $(STAMP)
	QUORUMLAB_REQUIRE_BROWSER=1 $(BIN)/python -m pytest -q -m browser tests/web ; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no browser tests: that is a failure here"; exit 1; fi; exit $$rc

test-twins: $(STAMP)
	QUORUMLAB_PURE_PYTHON=1 $(BIN)/python -m pytest -q -m "not campaign and not browser" ; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure here"; exit 1; fi; exit $$rc

bench: $(STAMP)
	$(BIN)/bench compare

bench-micro: $(STAMP)
	$(BIN)/python -m pytest -q --benchmark-enable --benchmark-autosave --benchmark-columns=min,median,mean,ops,rounds tests/bench

campaign: $(STAMP)
	$(BIN)/python -m pytest -q -m campaign

$(FUZZ_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-build-isolation -e ".[test,plots,web,browser,fuzz]"
	@touch $(FUZZ_STAMP)

fuzz: $(FUZZ_STAMP)
	nice $(BIN)/python -m tests.fuzz --seconds $(FUZZ_SECONDS)

clean:
	rm -rf $(VENV) build *.egg-info core/*.c core/*.so core/check/*.c core/check/*.so .benchmarks .fuzz .artifacts

# livetape: `make run` starts a server on the embedded default; `make test` checks everything.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests use: ffmpeg (ffprobe cross-checks the recorded files) and
# chromium (driven by Playwright to play and seek recorded files; never `playwright install`)
DEB_TEST_PACKAGES := ffmpeg chromium
# Debian packages the benchmarks compare against: Janus (VideoRoom recording) and its tools,
# nginx (serving the same library file, bench/serve.py)
DEB_BENCH_PACKAGES := janus janus-tools nginx

.PHONY: run test install install-test deb-test deb-bench lint typecheck pytest bench bench-serve bench-transcode clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test deb-test

deb-test: DEB_PACKAGES = $(DEB_TEST_PACKAGES)
deb-bench: DEB_PACKAGES = $(DEB_BENCH_PACKAGES)
deb-test deb-bench:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

run: install
	$(BIN)/livetape serve --demo

lint: install-test
	$(BIN)/ruff check src tests bench

typecheck: install-test
	$(BIN)/mypy

pytest: install-test
	$(BIN)/pytest

test: lint typecheck pytest

bench: install-test deb-bench
	$(BIN)/python bench/record_capacity.py --profile

bench-serve: install-test deb-bench
	$(BIN)/python bench/serve.py

bench-transcode: install-test
	$(BIN)/python bench/transcode.py --seconds 60

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

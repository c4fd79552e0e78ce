# livetape: `make run` starts a server on the embedded default; `make test` checks everything.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# Debian packages the tests use: ffmpeg (ffprobe cross-checks the recorded files),
# chromium (driven by Playwright to play and seek recorded files; never `playwright install`),
# and third-party WHIP publishers (tests/rooms/test_whip_clients.py): simple-whip-client (GStreamer
# webrtcbin; pulls in the GStreamer plugins it uses: good, bad, ugly, nice, libav), gcc (builds
# its no-UPnP stand-in library at test time) and firefox-esr (headless, fake camera); coturn
# (a TURN server that checks the credentials livetape mints, tests/auth/test_ice_servers.py);
# nginx (the reverse proxy of deploy/nginx-livetape.conf, tests/api/test_reverse_proxy.py);
# nftables and iproute2 (the NAT'ed networks of namespaces in tests/live/test_behind_nat.py)
DEB_TEST_PACKAGES := ffmpeg chromium simple-whip-client gcc firefox-esr coturn nginx nftables iproute2
# Debian packages the benchmarks compare against: Janus (VideoRoom recording) and its tools,
# nginx (serving the same library file, bench/serve.py)
DEB_BENCH_PACKAGES := janus janus-tools nginx

# hls.js plays HLS in the web console (Firefox has no HLS of its own, Chromium only lately):
# fetched from the npm registry at install time, never committed. The version is pinned, and
# so is its tarball's hash (`npm view hls.js@VERSION dist.integrity`), checked here as well as
# by npm; vendor/hls.js.version records both, so changing either fetches again. Only
# dist/hls.light.min.js (it has MPEG-TS, H.264 and AAC) and its LICENSE are kept. Without npm
# or the registry the install goes on with a warning, and the console plays HLS only where the
# browser does by itself (else MP4, and the master playlist's URL is shown).
HLS_JS_VERSION   := 1.7.4
HLS_JS_INTEGRITY := sha512-3GlxGdPvT2YHvQYOt+yOzT/DEior/qJVNIylHA77kgeoBTdQQqi70GwefNEUmHQeNGyjC8U62+bruqW/Tpm+tg==
VENDOR           := src/livetape/web/console/vendor

# `make cluster`: NATS, SeaweedFS (S3) and 3 nodes on LIVETAPE_DATABASE_URL (PostgreSQL),
# Ctrl-C stops all (README: "Running a cluster")
cluster: $(VENV)/.installed-test
	$(BIN)/livetape cluster up --nodes $${NODES:-3}

.PHONY: cluster run test install install-test vendor deb-test deb-bench lint typecheck pytest bench bench-serve bench-transcode clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml harness/pyproject.toml $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]' -e harness
	touch $@

install: $(VENV)/.installed vendor

# The tarball goes to a temporary folder (npm pack: no node_modules, no install scripts run);
# a wrong hash fails the install, an unreachable registry only warns.
vendor:
	@if [ -f $(VENDOR)/hls.light.min.js ] && \
	    [ "$$(cat $(VENDOR)/hls.js.version 2>/dev/null)" = "$(HLS_JS_VERSION) $(HLS_JS_INTEGRITY)" ]; \
	then exit 0; fi; \
	warn() { echo "WARNING: hls.js $(HLS_JS_VERSION) not fetched ($$1): the web console plays HLS only" \
	  "where the browser does by itself. Rerun 'make vendor' with the npm registry" \
	  "reachable to play HLS." >&2; }; \
	if ! command -v npm >/dev/null 2>&1; then warn "npm is not installed"; exit 0; fi; \
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	echo "fetching hls.js $(HLS_JS_VERSION) from the npm registry" && \
	if ! (cd "$$tmp" && timeout 180 npm pack --loglevel=error --ignore-scripts --fetch-retries=1 \
	      hls.js@$(HLS_JS_VERSION) >npm.out 2>npm.err); then \
	  grep "^npm error" "$$tmp/npm.err" | head -n 2 >&2; warn "npm pack failed"; exit 0; fi; \
	tgz="$$tmp/hls.js-$(HLS_JS_VERSION).tgz"; \
	want=$$(printf %s '$(HLS_JS_INTEGRITY)' | sed 's/^sha512-//' | base64 -d | od -An -v -tx1 | tr -d ' \n'); \
	got=$$(sha512sum "$$tgz" | cut -d' ' -f1); \
	if [ -z "$$want" ] || [ "$$got" != "$$want" ]; then \
	  echo "ERROR: hls.js $(HLS_JS_VERSION): the tarball's sha512 is $$got, not the pinned" \
	    "$(HLS_JS_INTEGRITY); nothing installed" >&2; exit 1; fi; \
	tar -xzf "$$tgz" -C "$$tmp" package/dist/hls.light.min.js package/LICENSE && \
	mkdir -p $(VENDOR) && \
	install -m 644 "$$tmp/package/dist/hls.light.min.js" $(VENDOR)/hls.light.min.js && \
	install -m 644 "$$tmp/package/LICENSE" $(VENDOR)/hls.js-LICENSE && \
	echo "$(HLS_JS_VERSION) $(HLS_JS_INTEGRITY)" > $(VENDOR)/hls.js.version && \
	echo "hls.js $(HLS_JS_VERSION) (sha512 checked) in $(VENDOR)/"

install-test: install $(VENV)/.installed-test deb-test

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
	$(BIN)/ruff check src tests bench harness
	$(BIN)/lint-imports

typecheck: install-test
	$(BIN)/mypy

# PYTEST_WORKERS=0 runs the tests in this process (one at a time)
PYTEST_WORKERS ?= 2
pytest: install-test
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist worksteal --durations=40

test: lint typecheck pytest

bench: install-test deb-bench
	$(BIN)/python bench/record_capacity.py --profile

bench-serve: install-test deb-bench
	$(BIN)/python bench/serve.py --sizes 256K,4M,full

bench-transcode: install-test
	$(BIN)/python bench/transcode.py --seconds 60

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .grimp_cache .import_linter_cache $(VENDOR)

# erechnung: two commands do everything on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-deps

.PHONY: install artifacts system-tools demo demo-cluster console test test-clock-ahead chaos bench-validate bench-hybrid bench-pipeline bench-cluster bench-delivery bench-matching prefect-server clean

install: $(STAMP) artifacts system-tools

# Debian tools the tests use: pdftoppm renders generated PDFs' page 1 as PNG; libfaketime moves the clock ahead
# for test-clock-ahead; xmlsec1 is the independent verifier of our Peppol AS4 signatures; chromium is the browser
# the console's browser tests drive (through Playwright, no browser download). Installed when missing.
system-tools:
	@command -v chromium >/dev/null 2>&1 || { echo "installing chromium"; \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  echo "warning: could not install chromium; run as root or install it yourself"; }
	@command -v xmlsec1 >/dev/null 2>&1 || { echo "installing xmlsec1"; \
	  (apt-get update -qq && apt-get install -y -qq xmlsec1 >/dev/null) || \
	  echo "warning: could not install xmlsec1; run as root or install it yourself"; }
	@command -v pdftoppm >/dev/null 2>&1 || { echo "installing poppler-utils (pdftoppm)"; \
	  (apt-get update -qq && apt-get install -y -qq poppler-utils >/dev/null) || \
	  echo "warning: could not install poppler-utils; run as root or install it yourself"; }
	@ls /usr/lib/*/faketime/libfaketimeMT.so.1 >/dev/null 2>&1 || { echo "installing faketime (libfaketime)"; \
	  (apt-get update -qq && apt-get install -y -qq faketime >/dev/null) || \
	  echo "warning: could not install faketime; run as root or install it yourself"; }

# The virtual environment and the project (editable, with its test extras); redone when pyproject changes.
$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "Python 3.11 is required (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

# Official artifacts into xsd/ (from ERECHNUNG_ARTIFACTS_MIRROR or ../shared/conformance, else downloaded),
# every file checked against its pinned sha256.
artifacts: $(STAMP)
	$(PY) -m erechnung.artifacts install

demo: install
	$(PY) -m erechnung.entrypoints.demo

# Several machines (issue 16): a Prefect server on PostgreSQL, an S3 server on loopback, two workers with their own
# work folders ("machines"), two municipalities' batches; one worker is killed mid-chunk. Ends with the line
# "cluster demo: tenants 2, documents N, duplicates 0, lost 0, workers used 2"; everything it starts is stopped.
demo-cluster: install
	$(PY) -m erechnung.entrypoints.demo.cluster

# The web console on the demo's data (after make demo): http://127.0.0.1:8080, demo accounts in examples/config.toml
console: install
	@test -f out/pipeline/config.toml || $(PY) -m erechnung.entrypoints.demo
	$(PY) -m erechnung console --config out/pipeline/config.toml --host 127.0.0.1 --port 8080

test: install
	$(PY) -m pytest -q -n 2 --dist loadgroup

# The date-sensitive tests again with the system clock moved ahead (libfaketime): onto the next leap day a year or
# more ahead, and years ahead. No test may depend on today's date; CI runs this after `make test`.
DATED_TESTS := tests/delivery tests/connectors tests/notices tests/pipeline tests/state
test-clock-ahead: install
	$(PY) tools/clock_ahead.py leap-day -- -q -n 2 --dist loadgroup -p no:cacheprovider $(DATED_TESTS)
	$(PY) tools/clock_ahead.py years:9 -- -q -n 2 --dist loadgroup -p no:cacheprovider $(DATED_TESTS)

# Kill `erechnung run`, `deliver` and `track` KILLS times at random moments (PostgreSQL on 127.0.0.1:5432, the
# delivery sandboxes on loopback), recover, then check: nothing lost, duplicated or stuck; audit and archive verify.
# Ends with "chaos: kills K, records N, lost 0, duplicated 0, stuck 0"; e.g. make chaos KILLS=10 CHAOS_ARGS=--seed=7
KILLS ?= 50
CHAOS_ARGS ?=
chaos: install
	$(PY) tools/chaos.py --kills $(KILLS) $(CHAOS_ARGS)

bench-validate: install
	$(PY) bench/bench_validate.py

# Hybrid invoices (render + CII + embed) per second on all cores, next to the plain factur-x route.
bench-hybrid: install
	$(PY) bench/bench_hybrid.py

# The whole pipeline on synthetic deliveries, with and without Prefect: documents/s, peak memory, Prefect's share.
# RECORDS="10000 100000" by default; e.g. make bench-pipeline RECORDS=2000 BENCH_ARGS=--prefect-server
RECORDS ?= 10000 100000
BENCH_ARGS ?=
bench-pipeline: install
	$(PY) bench/bench_pipeline.py --records $(RECORDS) $(BENCH_ARGS)

# A run over several machines (issue 16): CPU per document of coordinator, PostgreSQL, S3 stand-in (and Prefect
# server), one worker vs two, and what N machines can carry. e.g. make bench-cluster CLUSTER_ARGS="--records 6000 --prefect"
CLUSTER_ARGS ?=
bench-cluster: install
	$(PY) bench/bench_cluster.py $(CLUSTER_ARGS)

# Deliveries per second per channel against the sandboxes on loopback (e-mail; BundID through FIT-Connect; Peppol).
bench-delivery: install
	$(PY) bench/bench_delivery_email.py
	$(PY) bench/bench_delivery_fitconnect.py
	$(PY) bench/bench_delivery_peppol.py

# Matching 100,000 bank entries against 150,000 open items (issue 15: under 30 s); prints a ratio to a dict build
bench-matching: install
	$(PY) bench/bench_matching.py

# Prefect's server and UI on http://127.0.0.1:4200, offline (no telemetry, our own PREFECT_HOME under var/).
PREFECT_OFFLINE := DO_NOT_TRACK=1 PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_HOME=$(CURDIR)/var/prefect
prefect-server: install
	mkdir -p var/prefect
	$(PREFECT_OFFLINE) $(VENV)/bin/prefect server start --host 127.0.0.1 --port 4200

clean:
	rm -rf $(VENV) out reports build dist

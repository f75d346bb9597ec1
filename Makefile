# Two commands: `make run` and `make test`. Everything else is what they need.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
FLASK := $(VENV)/bin/flask --app wsgi
PORT ?= 5000
export PORT
# A system library WeasyPrint needs (see its rule below); its Debian doc folder marks it installed.
HARFBUZZ_SUBSET := /usr/share/doc/libharfbuzz-subset0
export BASE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test bench setup clean

run: setup
	@DEMO_MODE=1 $(FLASK) db upgrade
	@DEMO_MODE=1 $(FLASK) demo
	@echo "Serving on $(BASE_URL)  (Ctrl-C stops the web server, the scheduler, the mail catcher and the inbound mail server)"
	@# One worker: the demo's rate limits are counted in memory, per process.
	@# If any of the four stops (say, port 8025 is taken), the others are stopped too.
	@# The scheduler starts once the mail catcher listens: its catch-up may send mail at once.
	@export DEMO_MODE=1; \
	trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; \
	$(FLASK) devmail run & \
	for i in $$(seq 50); do $(VENV)/bin/python -c 'import socket; socket.create_connection(("127.0.0.1", 8025), 1)' \
		2>/dev/null && break; sleep 0.2; done; \
	$(FLASK) inbound run & \
	$(FLASK) jobs run & \
	$(VENV)/bin/gunicorn --bind 127.0.0.1:$(PORT) --workers 1 --threads 8 --access-logfile - wsgi:app & \
	wait -n

test: setup $(VENV)/.dev-installed /usr/bin/chromium /usr/bin/pdftoppm $(HARFBUZZ_SUBSET)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest

bench: setup $(VENV)/.dev-installed $(HARFBUZZ_SUBSET)
	$(VENV)/bin/pytest tests/benchmarks -o python_files='bench_*.py' -q

setup: $(VENV)/.installed static/vendor/htmx.min.js

$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e .
	touch $@

$(VENV)/.dev-installed: $(VENV)/.installed
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund

static/vendor/htmx.min.js: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js $@

# Browser tests drive Debian's Chromium, never a downloaded browser; the DPA test
# renders PDF pages to images with poppler's pdftoppm.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_INSTALL := $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq
/usr/bin/chromium:
	$(APT_INSTALL) chromium
/usr/bin/pdftoppm:
	$(APT_INSTALL) poppler-utils
# WeasyPrint subsets fonts with HarfBuzz's subset library; without it, it warns on
# every PDF, and the tests turn warnings into errors. The package's doc folder is
# there once it is installed.
$(HARFBUZZ_SUBSET):
	$(APT_INSTALL) libharfbuzz-subset0

clean:
	rm -rf $(VENV) node_modules static/vendor .pytest_cache

# framesift: `make demo` and `make test` do everything on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
DEMO_DIR ?= demo-out
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# tests use Debian's chromium, never a browser downloaded by Playwright
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: all venv system-deps models lint typecheck test test-fast demo bench proto deb clean

all: test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	$(PY) -m pip install -q -e '.[cpu,hub,dev]' 2>&1 | grep -v '^WARNING: Location' || true
	$(PY) -c 'import agent, onnxruntime, simplejpeg, cv2' 
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the tests use (real redis-server, postgresql for the hub, chromium for the web app); installed only when root and missing.
system-deps:
	@if ! command -v redis-server >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server (Debian package)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null) \
	      || echo "warning: could not install redis-server; Redis tests will be skipped"; \
	  else echo "note: redis-server not found and not root; Redis tests will be skipped"; fi; \
	fi
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing postgresql (Debian package)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
	      || echo "warning: could not install postgresql; PostgreSQL hub tests will be skipped"; \
	  else echo "note: postgresql not found and not root; PostgreSQL hub tests will be skipped"; fi; \
	fi
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium (Debian package; the hub's web app browser test)"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || echo "warning: could not install chromium; the web app browser test will be skipped"; \
	  else echo "note: chromium not found and not root; the web app browser test will be skipped"; fi; \
	fi

models: venv
	$(PY) models/fetch_test_models.py >/dev/null

lint: venv
	$(VENV)/bin/ruff check agent tests models
	$(VENV)/bin/mypy agent

test: venv system-deps models lint
	$(VENV)/bin/pytest -q

test-fast: venv models
	$(VENV)/bin/pytest -q -m "not slow" -x

demo: venv models
	DEMO_DIR=$(DEMO_DIR) bash examples/demo.sh

bench: venv models
	$(VENV)/bin/framesift bench inference --model nudenet/1 --images tests/data/astronaut.jpg tests/data/grace_hopper.jpg tests/data/rocket.jpg tests/data/coffee.jpg

ARCH ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
PYVER ?= $(shell /usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3.11)

# .deb with the app in /opt/framesift (ARCH=arm64 PYVER=3.10 for Jetson / JetPack 6)
deb: venv
	PYTHON=$(PY) bash packaging/build-deb.sh $(ARCH) $(PYVER) dist

# regenerate the checked-in gRPC code (tests/contract/test_proto_current.py fails when it drifts)
proto: venv
	$(PY) -m grpc_tools.protoc -I proto --python_out=. --pyi_out=. --grpc_python_out=. proto/agent/control/v1/control.proto

clean:
	rm -rf $(VENV) $(DEMO_DIR) build dist .mypy_cache .ruff_cache .pytest_cache

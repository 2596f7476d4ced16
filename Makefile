# `make check` and `make test` set everything up on a fresh machine, then run.
PYTHON ?= python3
VENV := .venv
PACK_VENV := policies/venv
BIN := $(VENV)/bin

.PHONY: setup nsd chromium check test lint bench clean

$(VENV)/.installed: requirements.txt policies/requirements.txt pyproject.toml Makefile
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	# compat mode: a plain path entry in a .pth. The default editable finder is an import hook that
	# every .venv interpreter loads at start-up, twice on a `golive check`'s critical path.
	# (setuptools, pinned, warns that the mode is transitional: hence PYTHONWARNINGS.)
	PYTHONWARNINGS=ignore $(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation \
		--config-settings editable_mode=compat -e .
	# compat mode puts only this folder on the path; the checklist core (installed as `checklist` by a
	# plain `pip install .`) lives in policies/, which gets a .pth line of its own the same way.
	$(BIN)/python -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "golive-checklist.pth").write_text(str(pathlib.Path("policies").resolve()) + "\n")'
	# Byte-compile once: with PYTHONDONTWRITEBYTECODE set, every run would otherwise recompile.
	$(BIN)/python -m compileall -q golive policies/checklist components
	touch $@

# The pack gets the virtualenv its PulumiPolicy.yaml names, as `pulumi install` would make it:
# proof that policies/requirements.txt alone is enough to run it.
$(PACK_VENV)/.installed: policies/requirements.txt
	test -x $(PACK_VENV)/bin/python || $(PYTHON) -m venv $(PACK_VENV)
	$(PACK_VENV)/bin/pip install -q --disable-pip-version-check -r policies/requirements.txt
	touch $@

# actionlint, for tests/test_workflows.py: rhysd's, pinned, built by the Go toolchain from the Go module
# proxy into .venv/bin (where the tests look first). Its own Go module cache stays out of the work tree.
GO ?= go
ACTIONLINT_VERSION := v1.7.12
$(VENV)/.actionlint-$(ACTIONLINT_VERSION): $(VENV)/.installed
	rm -f $(BIN)/actionlint  # an older one (e.g. a pip wheel's script) would stop go install
	GOBIN="$(abspath $(BIN))" GOFLAGS=-mod=mod $(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	touch $@

setup: $(VENV)/.installed $(PACK_VENV)/.installed $(VENV)/.actionlint-$(ACTIONLINT_VERSION)

# The audit's live-DNS tests run a real authoritative server (tests/fakes/nsd.py starts its own on a
# free loopback port) and fail, not skip, without it: Debian's nsd, installed once (root or sudo).
nsd:
	@command -v nsd >/dev/null || [ -x /usr/sbin/nsd ] || { \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nsd; }

# The review page's browser tests (tests/golive/test_fleet.py) drive Debian's headless Chromium through
# Playwright (pinned in requirements.txt); Playwright's own browser download is never used.
chromium:
	@command -v chromium >/dev/null || [ -x /usr/bin/chromium ] || { \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo="sudo"; \
		$$sudo apt-get update -qq && \
		$$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; }

check: setup
	$(BIN)/python -m golive check . --stack production

test: setup nsd chromium
	$(BIN)/python -m ruff check .
	$(BIN)/lint-imports --no-cache  # the import layers of pyproject.toml's [tool.importlinter]
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/python -m ruff check .
	$(BIN)/lint-imports --no-cache

bench: setup nsd
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) $(PACK_VENV)

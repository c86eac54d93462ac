# Two commands for users: `make demo` and `make test`. Both set up everything they
# need (virtualenv, Cython, libuv) on a fresh machine.

PYTHON ?= python3
BUILD_DEPS = 'setuptools>=77' wheel 'Cython>=3.0.11,<3.3'
# The test extra of pyproject.toml (setuptools is in BUILD_DEPS).
TEST_DEPS = 'pytest>=7' blockbuster
SOURCES = $(shell find uvloop -name '*.pyx' -o -name '*.pxd' -o -name '*.py' -o -name '*.h' -o -name '*.c') \
          setup.py pyproject.toml
LIBUV = vendor/libuv/src-tree/include/uv.h
PYTEST_ARGS ?=

# The release build lives in .venv (demo, benchmarks); the debug build, with the live
# handle counters the leak checks read, in .venv-debug (tests).
VENV = .venv
VENV_DEBUG = .venv-debug
# The debug build without the Linux-only spawn code (UVLOOP_PORTABLE_SPAWN=1): the
# locked spawn with fork() serves every child, as on a platform without clone() and
# pidfds (make test-portable).
VENV_PORTABLE = .venv-portable
# The release build with real frameworks from PyPI (make test-frameworks).
VENV_FRAMEWORKS = .venv-frameworks
# Pinned so that a new release cannot turn the run red overnight; each installs on
# CPython 3.11 to 3.13. Then what anyio's, aiohttp's and uvicorn's own test suites need.
FRAMEWORKS = aiohttp==3.14.5 anyio==4.16.0 websockets==17.4 httpx==0.28.1 \
             uvicorn==0.54.0 starlette==1.10.0
FRAMEWORK_SUITE_DEPS = pytest==9.2.0 blockbuster==1.5.29 trustme==1.2.1 \
             hypothesis==6.170.17 psutil==7.2.2 pytest-mock==3.17.0 pytest-timeout==2.4.0 \
             truststore==0.10.5 freezegun==1.5.5 coverage==7.17.5 httpx2==2.16.2 \
             a2wsgi==1.10.10 wsproto==1.3.2 httptools==0.9.0 zttp==0.0.35 \
             python-dotenv==1.2.4 PyYAML==6.0.4 watchfiles==1.3.0

.PHONY: all build debug test test-portable test-ft test-tsan test-frameworks demo bench clean

# A free-threaded CPython 3.13, and the same built with ThreadSanitizer: .ci/python builds
# each once per machine (cached outside the clone); their venvs belong to this clone.
VENV_FT = .venv-ft
VENV_TSAN = .venv-tsan

all: build

$(LIBUV):
	vendor/libuv/fetch

# On a fresh Debian machine, .ci/prerequisites first installs what the system lacks.
%/bin/python:
	PYTHON=$(PYTHON) .ci/prerequisites
	$(PYTHON) -m venv $*
	$*/bin/pip install --quiet --upgrade pip

# Remade when .ci/python changes (it may then build another interpreter). --copies: the
# venv's python is then as old as the venv, not as the cached interpreter.
$(VENV_FT)/bin/python: FLAVOUR = ft
$(VENV_TSAN)/bin/python: FLAVOUR = ft-tsan
$(VENV_FT)/bin/python $(VENV_TSAN)/bin/python: .ci/python
	rm -rf $(@:/bin/python=)
	interpreter=$$(.ci/python $(FLAVOUR)) && "$$interpreter" -m venv --copies $(@:/bin/python=)

# Redone when this Makefile changes, so that an older venv gets raised pins too.
# (Precious: made by pattern rules, make would otherwise delete them as intermediate.)
.PRECIOUS: %/bin/python %/.deps
%/.deps: %/bin/python Makefile
	$*/bin/pip install --quiet $(BUILD_DEPS) $(TEST_DEPS)
	touch $@

$(VENV)/.built: $(VENV)/.deps $(LIBUV) $(SOURCES)
	UVLOOP_DEBUG=0 $(VENV)/bin/pip install --quiet --no-build-isolation --no-deps .
	touch $@

$(VENV_DEBUG)/.built: $(VENV_DEBUG)/.deps $(LIBUV) $(SOURCES)
	UVLOOP_DEBUG=1 $(VENV_DEBUG)/bin/pip install --quiet --no-build-isolation --no-deps .
	touch $@

$(VENV_PORTABLE)/.built: $(VENV_PORTABLE)/.deps $(LIBUV) $(SOURCES)
	UVLOOP_DEBUG=1 UVLOOP_PORTABLE_SPAWN=1 $(VENV_PORTABLE)/bin/pip install --quiet \
	    --no-build-isolation --no-deps .
	touch $@

$(VENV_FRAMEWORKS)/.frameworks: $(VENV_FRAMEWORKS)/.deps
	$(VENV_FRAMEWORKS)/bin/pip install --quiet $(FRAMEWORKS) $(FRAMEWORK_SUITE_DEPS)
	touch $@

# Ours last, so that it is the uvloop there even if a framework pulled in another.
$(VENV_FRAMEWORKS)/.built: $(VENV_FRAMEWORKS)/.frameworks $(LIBUV) $(SOURCES)
	UVLOOP_DEBUG=0 $(VENV_FRAMEWORKS)/bin/pip install --quiet --no-build-isolation --no-deps .
	touch $@

build: $(VENV)/.built

debug: $(VENV_DEBUG)/.built

# pytest is started from tests/ so that the installed package is imported, never the
# source tree.
test: debug
	cd tests && UVLOOP_REQUIRE_DEBUG=1 ../$(VENV_DEBUG)/bin/python -m pytest -q $(PYTEST_ARGS)

# The whole suite on the portable build: every spawn takes the locked path; the tests
# marked needs_fast_spawn say they are skipped for that reason (conftest.py), and the
# run fails if the build has the fast spawn after all.
test-portable: $(VENV_PORTABLE)/.built
	cd tests && UVLOOP_REQUIRE_DEBUG=1 UVLOOP_REQUIRE_PORTABLE_SPAWN=1 \
	    ../$(VENV_PORTABLE)/bin/python -m pytest -q $(PYTEST_ARGS)

# The whole suite on a free-threaded CPython with the GIL off (conftest.py fails the
# run if importing uvloop turned the GIL back on).
test-ft: $(LIBUV) $(VENV_FT)/.deps
	UVLOOP_DEBUG=1 $(VENV_FT)/bin/python -m pip install --quiet --no-build-isolation --no-deps .
	cd tests && UVLOOP_REQUIRE_DEBUG=1 ../$(VENV_FT)/bin/python -m pytest -q $(PYTEST_ARGS)

# The threaded tests on our loop under ThreadSanitizer, GIL off (not in CI: the first
# run builds the interpreter, about 20 minutes). Any race report fails the run; the
# known false ones are listed, with why, in .ci/tsan.supp. Under TSan vfork() is a
# fork(), so every spawn takes the locked path and the tests that need the fast one
# (marked needs_fast_spawn) are left out.
TSAN_TESTS = test_threadsafe.py test_free_threading.py test_spawn_paths.py
TSAN_SELECT = not asyncio and not needs_fast_spawn
test-tsan: $(LIBUV) $(VENV_TSAN)/.deps
	UVLOOP_DEBUG=1 $(VENV_TSAN)/bin/python -m pip install --quiet --no-build-isolation --no-deps .
	cd tests && TSAN_OPTIONS="suppressions=$(CURDIR)/.ci/tsan.supp" UVLOOP_REQUIRE_DEBUG=1 \
	    ../$(VENV_TSAN)/bin/python -m pytest -q -k '$(TSAN_SELECT)' $(TSAN_TESTS) $(PYTEST_ARGS)

# Real apps on the release build: aiohttp, uvicorn + starlette driven by httpx,
# websockets and anyio, each on our loop and asyncio's (tests/frameworks/, its own
# pytest rootdir, left out of `make test`); then anyio's, aiohttp's and uvicorn's own
# test suites on our loop (run_suites.py, sdists cached in .cache/frameworks). Needs PyPI.
test-frameworks: $(VENV_FRAMEWORKS)/.built
	cd tests/frameworks && ../../$(VENV_FRAMEWORKS)/bin/python -m pytest -q $(PYTEST_ARGS)
	$(VENV_FRAMEWORKS)/bin/python tests/frameworks/run_suites.py

demo: build
	$(VENV)/bin/python examples/demo.py

bench: build
	$(PYTHON) bench/bench_core.py

clean:
	rm -rf build dist *.egg-info uvloop/*.so $(VENV)/.built $(VENV_DEBUG)/.built \
	    $(VENV_PORTABLE)/.built $(VENV_FRAMEWORKS)/.built

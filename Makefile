# Two commands do all the set-up on a fresh machine with Python 3.11 and make, nothing else:
#   make book   build the HTML book (executes every notebook of book/manifest.yml first)
#   make test   unit tests, the notebooks at quick scale (nbval), a strict book build, the book in
#               headless Chromium (installed first where it is missing: tests_browser/chromium.py)
# Every command a recipe runs is Python 3.11, make, POSIX tools or installed by a recipe here
# (tests/test_bare_machine.py fails otherwise). The book's JavaScript is committed
# (book/assets/vendor/, refreshed by book/vendor.py), so no recipe needs npm.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
EXECUTED := book/generated/.executed
JB_FLAGS := -W -n --keep-going

.PHONY: book test chromium unit notebooks claims claims-pages expected execute html results bench bench-paper verify clean lab browser publish

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

book: $(STAMP) $(EXECUTED) html

# The pages, executed once for what they read: the notebooks, the manifest, the package, the
# committed runs (`make book` then `make test` builds the paper-scale book once). `make execute`
# executes every page again whatever has changed.
$(EXECUTED): $(STAMP) $(wildcard $(shell git ls-files notebooks gtlib results book/manifest.yml book/execute.py 2>/dev/null))
	$(PY) book/execute.py
	touch $@

execute: $(STAMP)
	$(PY) book/execute.py
	touch $(EXECUTED)

# --all: every page read again, so that a warning left by an earlier build is raised again
html: $(STAMP)
	$(VENV)/bin/jupyter-book build . --all $(JB_FLAGS)

# A Chromium for the browser tests, found or installed: Playwright's own download where the
# internet is reachable, else Debian's package when root; otherwise one line naming the command.
chromium: $(STAMP)
	$(PY) tests_browser/chromium.py

# The built book (_build/html; build it first) in headless Chromium, driven by Playwright: clean
# console, no request outside the book, figures and math shown, a slider that changes its figure,
# the page list at 400 px. Screenshots in _build/browser/.
browser: $(STAMP) chromium
	$(PY) -m pytest -q tests_browser

# Push the built HTML to the gh-pages branch of REMOTE (a remote name or URL), as Jupyter Book
# documents; -n adds .nojekyll (GitHub Pages would otherwise hide _static/ and _images/).
# Run `make book` first. tests/test_publish.py runs this target against a local bare repository.
REMOTE ?= origin
BOOK_HTML ?= _build/html
publish: $(STAMP)
	@test -f $(BOOK_HTML)/index.html || { echo "publish: no $(BOOK_HTML)/index.html; run make book first" >&2; exit 1; }
	$(VENV)/bin/ghp-import -n -p -f -r $(REMOTE) -b gh-pages -m "Publish the book" $(BOOK_HTML)

# The quick claims before nbval: they train the quick runs two pages at a time, and nbval then finds
# most of its runs stored.
test: $(STAMP) chromium unit claims notebooks book browser

unit: $(STAMP)
	$(PY) -m pytest -q tests

notebooks: $(STAMP)
	$(PY) -m pytest -q --nbval-lax --nbval-current-env notebooks

# Every page of the manifest at the quick scale, and each notebook at its defaults: each claim
# asserted there (gtlib/expected_quick.json) must have its expected verdict.
# (python -m gtlib claims: the runs and the checks of every page, without Jupyter or plots; nbval
# executes the notebooks themselves, and `make claims-pages` the same pages through Jupyter.)
claims: $(STAMP)
	$(PY) -m gtlib claims --scale quick --jobs 2

claims-pages: $(STAMP)
	$(PY) book/execute.py --scale quick --check --out _build/quick

# What CI asserts at the quick scale, as data: every page at the quick scale into an empty store,
# then each claim robust there (gtlib/claims.py) written with its verdict, seeds' classes and margin
# to gtlib/expected_quick.json. Run it where the quick claims change; commit the file.
EXPECTED_DIR := _build/expected
expected: $(STAMP)
	rm -rf $(EXPECTED_DIR) && mkdir -p $(EXPECTED_DIR)/empty
	GTLIB_STORE=$(EXPECTED_DIR)/store GTLIB_RESULTS=$(EXPECTED_DIR)/empty \
		$(PY) -m gtlib claims --scale quick --jobs 2 --record $(EXPECTED_DIR)/verdicts || true
	$(PY) -m gtlib expected $(EXPECTED_DIR)/verdicts --write

# Regenerate the committed paper-scale runs: every page of the manifest, storing into results/,
# JOBS pages at a time on one torch thread each (default 2: both cores busy; JOBS=1 runs one page on
# all threads). SCHEDULER=local (or tcp://host:8786) trains the missing runs on a Dask cluster
# (gtlib.cluster) instead.
SCHEDULER ?= $(GTLIB_SCHEDULER)
JOBS ?= 2
PAGE_JOBS = $(if $(SCHEDULER),--scheduler $(SCHEDULER),--jobs $(JOBS))
results: $(STAMP)
	GTLIB_STORE=results $(PY) book/execute.py $(PAGE_JOBS)

# Check every stored file of the run stores against its checksum.
verify: $(STAMP)
	$(PY) -m gtlib verify

# The live explorer (gtlib.widgets) in JupyterLab, from the project's own environment, widgets
# included (jupyterlab_widgets). LAB_FLAGS=--no-browser on a remote machine; as root (containers)
# Jupyter also needs --allow-root, added by default.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)
lab: $(STAMP)
	$(VENV)/bin/jupyter lab $(LAB_ROOT) $(LAB_FLAGS) notebooks/explore.ipynb

bench: $(STAMP)
	$(PY) benchmarks/bench_training.py
	$(PY) benchmarks/bench_analysis.py

# The whole paper from an empty store (every run trained again, every page executed), timed, and
# compared with the committed runs and pages: about 70 minutes on a 2-core CPU, pages as `make results`
# executes them (JOBS, SCHEDULER). SCRATCH must be new or empty.
SCRATCH ?= _build/paper-from-scratch
bench-paper: $(STAMP)
	$(PY) benchmarks/bench_paper.py $(SCRATCH) $(PAGE_JOBS)

clean:
	rm -rf _build book/generated .gtlib-store

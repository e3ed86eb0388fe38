# Two commands do all the set-up on a fresh machine with Python 3.11 and make:
#   make book   build the HTML book (executes every notebook of book/manifest.yml first)
#   make test   unit tests, the notebooks at quick scale (nbval), and a strict book build
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
VENDOR := book/assets/vendor/MANIFEST
JB_FLAGS := -W -n --keep-going

.PHONY: book test unit notebooks claims claims-pages claims-perturbed execute html results bench bench-paper verify clean lab browser publish

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

$(VENDOR): book/vendor.sh
	bash book/vendor.sh

book: $(STAMP) $(VENDOR) execute html

execute: $(STAMP)
	$(PY) book/execute.py

html: $(STAMP) $(VENDOR)
	$(VENV)/bin/jupyter-book build . $(JB_FLAGS)

# The built book (_build/html; build it first) in headless Chromium (Debian's `chromium`, driven
# by Playwright): clean console, no request outside the book, figures and math shown, a slider
# that changes its figure, the page list at 400 px. Screenshots in _build/browser/.
browser: $(STAMP)
	$(PY) -m pytest -q tests_browser

# Push the built HTML to the gh-pages branch of REMOTE (a remote name or URL), as Jupyter Book
# documents; -n adds .nojekyll (GitHub Pages would otherwise hide _static/ and _images/).
# Run `make book` first. tests/test_publish.py runs this target against a local bare repository.
REMOTE ?= origin
BOOK_HTML ?= _build/html
publish: $(STAMP)
	@test -f $(BOOK_HTML)/index.html || { echo "publish: no $(BOOK_HTML)/index.html; run make book first" >&2; exit 1; }
	$(VENV)/bin/ghp-import -n -p -f -r $(REMOTE) -b gh-pages -m "Publish the book" $(BOOK_HTML)

test: $(STAMP) $(VENDOR) unit notebooks claims book browser

unit: $(STAMP)
	$(PY) -m pytest -q tests

notebooks: $(STAMP)
	$(PY) -m pytest -q --nbval-lax --nbval-current-env notebooks

# Every page of the manifest at the quick scale: each claim asserted there (gtlib.claims.QUICK)
# must have its expected verdict.
# (python -m gtlib claims: the runs and the checks of every page, without Jupyter or plots; nbval
# executes the notebooks themselves, and `make claims-pages` the same pages through Jupyter.)
claims: $(STAMP)
	$(PY) -m gtlib claims --scale quick

claims-pages: $(STAMP)
	$(PY) book/execute.py --scale quick --check --out _build/quick

# The same claims under other float rounding, each from an empty store: torch's non-vectorised
# kernels (as on another CPU), then one thread. Every asserted verdict must agree.
PERTURBED := _build/perturbed
claims-perturbed: $(STAMP)
	rm -rf $(PERTURBED) && mkdir -p $(PERTURBED)/empty
	ATEN_CPU_CAPABILITY=default GTLIB_STORE=$(PERTURBED)/store-default GTLIB_RESULTS=$(PERTURBED)/empty \
		$(PY) -m gtlib claims --scale quick
	OMP_NUM_THREADS=1 GTLIB_STORE=$(PERTURBED)/store-one-thread GTLIB_RESULTS=$(PERTURBED)/empty \
		$(PY) -m gtlib claims --scale quick

# Regenerate the committed paper-scale runs: every page of the manifest, storing into results/.
# SCHEDULER=local (or tcp://host:8786) trains the missing runs on a Dask cluster (gtlib.cluster).
SCHEDULER ?= $(GTLIB_SCHEDULER)
results: $(STAMP)
	GTLIB_STORE=results GTLIB_SCHEDULER=$(SCHEDULER) $(PY) book/execute.py

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
# compared with the committed runs and pages: hours on a 2-core CPU. SCRATCH must be new or empty.
SCRATCH ?= _build/paper-from-scratch
bench-paper: $(STAMP)
	$(PY) benchmarks/bench_paper.py $(SCRATCH) $(if $(SCHEDULER),--scheduler $(SCHEDULER))

clean:
	rm -rf _build book/generated .gtlib-store

# Two commands set up a fresh machine and run the project:
#   make test   create the virtualenv (torch, detectron2, forgery_d2) and run the test suite
#   make demo   same install, then the main job on built-in synthetic data
# Both are idempotent: a second run reuses the virtualenv (the stamp file) in seconds.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.forgery_d2-installed
TORCH_PINS := torch==2.14.1 torchvision==0.29.1
PYTEST_ARGS ?=

.PHONY: install test lint demo clean-venv

install: $(STAMP)

$(STAMP): requirements.txt setup.py scripts/install_detectron2.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -qq --disable-pip-version-check $(TORCH_PINS)
	$(PY) -m pip install -qq --disable-pip-version-check -r requirements.txt
	bash scripts/install_detectron2.sh $(PY)
	$(PY) -m pip install -qq --disable-pip-version-check --no-build-isolation --no-deps -e .
	$(PY) -c "import forgery_d2, detectron2; print('forgery_d2', forgery_d2.__version__, 'on detectron2', detectron2.__version__)"
	touch $@

test: install lint
	$(PY) -m pytest $(PYTEST_ARGS) tests

# ruff's rules and formatting (pyproject.toml); `$(VENV)/bin/ruff format .` fixes the formatting.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

demo: install
	bash scripts/demo.sh $(PY)

clean-venv:
	rm -rf $(VENV)

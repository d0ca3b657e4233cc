# Billed: the two commands of the README. Both bootstrap everything they need from a fresh clone.
#   make example   run Billed on the bundled example repo (a copy in build/example): check, status, issue
#   make test      set up the dev environment and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
EXAMPLE = build/example

.PHONY: example test lint bench clean system messages

$(BIN)/billed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.dev: $(BIN)/billed
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

system:
	./scripts/system-deps

example: $(BIN)/billed
	@./scripts/system-deps --quiet-optional
	rm -rf $(EXAMPLE) && mkdir -p $(EXAMPLE)
	cp -r billed.yaml projects templates $(EXAMPLE)/
	@# its own git repo with a first commit: `billed issue` issues only from committed files (build/ is ignored here)
	cd $(EXAMPLE) && git init --quiet --initial-branch=main && git add -A && \
	  git -c user.name="Billed example" -c user.email=example@billed.invalid commit --quiet -m "The example"
	cd $(EXAMPLE) && ../../$(BIN)/billed check
	cd $(EXAMPLE) && ../../$(BIN)/billed status
	cd $(EXAMPLE) && ../../$(BIN)/billed issue
	@echo
	@echo "Issued documents (open the PDFs):"
	@ls -1 $(EXAMPLE)/invoices/*/*.pdf

test: $(VENV)/.dev system
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

lint: $(VENV)/.dev
	$(BIN)/ruff check .

# The words a client reads (docs/languages.md): extract them from Python and templates, merge them into every
# catalog; then translate the new or fuzzy entries in templates/locale/<lang>/LC_MESSAGES/billed.po.
LOCALES = templates/locale
messages: $(VENV)/.dev
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k NC_:1c,2 --sort-by-file --no-location --no-wrap --omit-header \
		--project Billed -o $(LOCALES)/billed.pot .
	$(BIN)/pybabel update -D billed -i $(LOCALES)/billed.pot -d $(LOCALES) --no-wrap --ignore-obsolete
	$(BIN)/pybabel compile -D billed -d $(LOCALES) --statistics --use-fuzzy >/dev/null
	find $(LOCALES) -name '*.mo' -delete

bench: $(VENV)/.dev
	bench/run

clean:
	rm -rf build $(VENV)

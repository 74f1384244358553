# POC Dojo — every command a developer or CI needs. `make run` and `make test` work on a fresh clone:
# they create .venv, install the Python packages (and the Node.js test harness) themselves.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY_STAMP   := $(VENV)/.installed
NODE_STAMP := tests/js/node_modules/.installed
HOST  ?= 127.0.0.1
PORT  ?= 8000
STATE ?= .pocdojo

.PHONY: install install-node jvm-tools pdf-tools apk apk-check screens run test lint typecheck imports unit mobile-test synth settings-table clean help

help:
	@echo "make run      start every service on embedded defaults (http://$(HOST):$(PORT))"
	@echo "make test     install what the tests need, then lint, type-check, import contracts, pytest"
	@echo "make install  create .venv and install the project with its dev tools"
	@echo "make lint | typecheck | imports | unit   one check at a time"
	@echo "make mobile-test   the Kotlin SDK's JVM tests (Maven; checks against yjs and pycrdt)"
	@echo "make apk      build mobile/app/build/pocdojo.apk (debug-signed); make apk-check checks it"
	@echo "make screens  draw every screen of the app (en, pt-BR) into mobile/docs/screens/*.png"
	@echo "make settings-table   regenerate docs/configuration.md from the settings classes (runtime/settings/)"
	@echo "make synth    the AWS CloudFormation templates, offline, into deploy/aws/cdk.out (CONTEXT='-c key=value ...')"

$(PY_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

install: $(PY_STAMP)

$(NODE_STAMP): tests/js/package.json tests/js/package-lock.json
	npm ci --prefix tests/js --no-audit --no-fund --loglevel=error
	@touch $@

install-node: $(NODE_STAMP)

run: $(PY_STAMP)
	$(BIN)/pocdojo dev --host $(HOST) --port $(PORT) --state-dir $(STATE)

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(PY_STAMP)
	$(BIN)/mypy

imports: $(PY_STAMP)
	$(BIN)/lint-imports

settings-table: $(PY_STAMP)
	$(BIN)/python -m runtime.settings.table

unit: $(PY_STAMP) $(NODE_STAMP) pdf-tools
	$(BIN)/pytest

test: $(PY_STAMP) $(NODE_STAMP) jvm-tools pdf-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
	cd mobile && mvn -B -ntp test
	bash mobile/tools/build-apk.sh
	bash mobile/tools/check-apk.sh
	$(BIN)/pytest

# A JDK (17+) and Maven for the Kotlin code in mobile/: installed from Debian's packages when missing.
jvm-tools:
	@command -v mvn >/dev/null && command -v javac >/dev/null || \
	  { apt-get update -q && apt-get install -y -q --no-install-recommends openjdk-17-jdk-headless maven; }

# Debian's poppler-utils (pdftotext, pdfinfo, pdftoppm, pdftohtml): the report tests read the PDFs back with
# them. Installed when missing (as root; otherwise the command to run is printed).
pdf-tools:
	@command -v pdftotext >/dev/null && command -v pdfinfo >/dev/null && command -v pdftoppm >/dev/null && \
	  command -v pdftohtml >/dev/null || \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q --no-install-recommends poppler-utils; \
	  else echo "the report tests need Debian's poppler-utils: sudo apt-get install poppler-utils" >&2; exit 1; fi

# The Kotlin SDK (mobile/): its tests check Kotlin against yjs (tests/js) and pycrdt (.venv). Part of `test`.
mobile-test: $(PY_STAMP) $(NODE_STAMP) jvm-tools pdf-tools
	cd mobile && mvn -B -ntp test

# The Android app: aapt2/zipalign/apksigner/dexdump from Debian (installed when missing), the Android
# framework jar and D8 from Maven Central (cached in mobile/.toolchain/, with the debug keystore).
apk: jvm-tools
	bash mobile/tools/build-apk.sh

# Signature, package, minSdk, launcher, permissions and the dex's classes of the APK `make apk` built.
apk-check: apk
	bash mobile/tools/check-apk.sh

# Every screen of the app drawn on the JVM (Robolectric, native graphics) into mobile/docs/screens/.
screens: jvm-tools
	bash mobile/tools/render-screens.sh

# The CDK app's CloudFormation templates, offline (no AWS account, Docker or network): docs/deploy.md.
synth: $(PY_STAMP)
	$(BIN)/python -m deploy.aws.app --outdir deploy/aws/cdk.out $(CONTEXT)

clean:
	rm -rf deploy/aws/cdk.out $(VENV) tests/js/node_modules .mypy_cache .ruff_cache .pytest_cache mobile/sdk/target mobile/target

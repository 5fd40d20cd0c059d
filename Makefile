# The two commands of the README:
#   make demo   set up .venv, train on the built-in demo plants, export a bundle, write a variant sheet
#   make test   set up .venv and run the test suite (CI runs this through .ci/run)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out/demo
EPOCHS ?= 150
SEED ?= 7

.PHONY: demo test venv js clean

$(BIN)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt -e '.[train,cpu,dev]'
	touch $@

venv: $(BIN)/.installed

demo: venv
	rm -rf $(OUT)
	$(BIN)/assetvae demo-data $(OUT)/plants --per-class 32 --seed 0
	$(BIN)/assetvae train $(OUT)/plants --out $(OUT)/run --epochs $(EPOCHS) --quiet
	$(BIN)/assetvae export $(OUT)/run -o $(OUT)/plants.avae.onnx
	$(BIN)/assetvae inspect $(OUT)/plants.avae.onnx
	$(BIN)/assetvae sample $(OUT)/plants.avae.onnx -n 12 --spread 0.8 --seed $(SEED) -o $(OUT)/variants.png
	@echo "open $(OUT)/variants.png (variants) and $(OUT)/run/previews/ (training previews)"

# The JS runtime's node and browser tests need node + npm, the packages of package-lock.json
# (onnxruntime-node's install script would fetch CUDA binaries: skipped) and Debian's chromium
# (driven by playwright-core; nothing downloads a browser build). As root (CI) what is missing
# is installed; otherwise those tests are skipped with a message, unless ASSETVAE_REQUIRE_JS=1
# (.ci/run) makes that a failure.
APT_INSTALL := apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

node_modules/.installed: package.json package-lock.json
	@command -v npm >/dev/null || { [ "$$(id -u)" = 0 ] && $(APT_INSTALL) nodejs npm >/dev/null; } || \
	  echo "warning: no node/npm: the JS tests will be skipped (apt-get install nodejs npm)"
	if command -v npm >/dev/null; then \
	  ONNXRUNTIME_NODE_INSTALL_CUDA=skip npm ci --no-audit --no-fund --loglevel=error && touch $@; fi

js: node_modules/.installed
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && $(APT_INSTALL) chromium >/dev/null; } || \
	  echo "warning: no chromium: the browser tests will be skipped (apt-get install chromium)"

test: venv js
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out build *.egg-info

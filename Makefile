# The two commands of the README:
#   make demo   set up .venv, train on the built-in demo plants, export a bundle, write a variant sheet
#   make test   set up .venv and run the test suite (CI runs this through .ci/run)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
OUT ?= out/demo
EPOCHS ?= 30
SEED ?= 7

.PHONY: demo test venv clean

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

test: venv
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) out build *.egg-info

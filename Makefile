# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
# Both create .venv, install torch's CPU build first (a plain `torch` requirement would pull
# several GB of CUDA wheels), install the project, and install missing system packages.
# Each step leaves a stamp, so a second run only checks.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip --disable-pip-version-check
TORCH_VERSION := 2.13.0
# Two workers: the machines this project targets have two cores.
PYTEST_WORKERS ?= 2

.PHONY: demo test lint bench install system-deps clean help weights

help:
	@echo "make demo    set up everything and run the demo job on synthesized sample media"
	@echo "make test    set up everything and run the test suite"
	@echo "make lint    ruff"
	@echo "make bench   run the benchmarks (prints the tables for the README)"
	@echo "make weights-NAME  retrain a shipped model on the CPU ($(WEIGHTS))"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.torch-stamp: | $(BIN)/python
	$(PIP) install --no-compile torch==$(TORCH_VERSION)
	@touch $@

$(VENV)/.install-stamp: pyproject.toml $(VENV)/.torch-stamp
	$(PIP) install --no-compile -e '.[test]'
	@touch $@

$(VENV)/.bench-stamp: $(VENV)/.install-stamp
	$(PIP) install --no-compile -e '.[test,bench]'
	@touch $@

install: $(VENV)/.install-stamp

system-deps:
	@bash scripts/install-system-deps.sh

demo: install system-deps
	$(BIN)/aigc demo --output demo-output

test: install system-deps
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS)

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: $(VENV)/.bench-stamp system-deps
	@for script in benchmarks/bench_*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

# Shipped weights: each is reproduced on the CPU by one target (prepare the data, train the preset,
# resuming if a run was interrupted, evaluate on the held-out split, export to the package).
WEIGHTS := neural-instrument vocoder-instrument denoiser-speech melody-folk chorale-harmonizer melody-vae \
  melody-vae-2bar frame-refiner deblur-net
PRESET_neural-instrument := specgan-instrument
PRESET_vocoder-instrument := vocoder-instrument
PRESET_denoiser-speech := denoiser-speech
DATA_neural-instrument := nsynth-gm
DATA_vocoder-instrument := nsynth-gm
DATA_denoiser-speech := speech-noise
PRESET_melody-folk := transformer-folk
PRESET_chorale-harmonizer := transformer-chorales
PRESET_melody-vae := melody-vae-folk
PRESET_melody-vae-2bar := melody-vae-2bar-folk
PRESET_frame-refiner := frame-refiner
PRESET_deblur-net := deblur-net
DATA_melody-folk := folk-melodies
DATA_chorale-harmonizer := bach-chorales
DATA_melody-vae := folk-melodies
DATA_melody-vae-2bar := folk-melodies
DATA_frame-refiner := frame-triplets
DATA_deblur-net := sharp-frames
# Extra Debian packages a model's data comes from (the video models: opencv-doc's footage).
DEPS_frame-refiner := opencv-doc
DEPS_deblur-net := opencv-doc
# Later training stages, each resuming the same run with its own preset.
STAGES_denoiser-speech := denoiser-speech-eq denoiser-speech-eq-long
STAGES_melody-vae := melody-vae-folk-long
# The melody model ships the copy-check index of its training corpus.
AFTER_melody-folk = $(BIN)/aigc music index folk-melodies -o src/aigc_studio/weights/melody-folk/copy-index.npz
AFTER_chorale-harmonizer = $(BIN)/aigc music index bach-melodies -o src/aigc_studio/weights/chorale-harmonizer/copy-index.npz

weights: $(addprefix weights-,$(WEIGHTS))

weights-%: install system-deps
	@bash scripts/install-system-deps.sh $(DEPS_$*)
	$(BIN)/aigc data prepare --dataset $(DATA_$*)
	@resume=""; [ -f runs/$*/checkpoints/latest.pt ] && resume="--resume"; \
	  $(BIN)/aigc train --preset $(PRESET_$*) --run runs/$* $$resume
	@for stage in $(STAGES_$*); do \
	  echo "$(BIN)/aigc train --preset $$stage --run runs/$* --resume"; \
	  $(BIN)/aigc train --preset $$stage --run runs/$* --resume || exit 1; done
	$(BIN)/aigc -q evaluate runs/$* --json > runs/$*/test-metrics.json
	$(BIN)/aigc export runs/$* -o src/aigc_studio/weights/$* --metrics runs/$*/test-metrics.json
	$(AFTER_$*)

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache

# Two commands do everything on a fresh machine:
#   make test     install into .venv (first time only) and run the tests
#   make report   install, train both models, run the analyses, write report.md
#   make report PRETRAINED=1   the same from the shipped FER2013 models (your FER2013 in data/), no training
# Steps whose inputs did not change are reused; FORCE=1 redoes them all.
# Real data: put data/fer2013.csv in place (see data/README.md for every form); EPOCHS=30 etc. override;
# COLLABORATORS="..." fills each question's Collaborators line.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# The data the scripts use without --data: ferlib's one list of default paths (standard library only).
DATA_FILE := $(shell $(PYTHON) -m ferlib)
ifeq ($(DATA_FILE),)
  # The built-in synthetic set: the CNN learns it fastest at batch 16 and lr 3e-3 (at 10
  # epochs it never learns the rare Disgust; at 15 it does);
  # the DNN needs a lower rate (at 3e-3 it stays at the majority class), more
  # epochs, which cost it seconds, and no weight decay (FER2013's 0.3 pays only
  # over 60 epochs: at 30 it costs the synthetic DNN 3 points). Calibrated in
  # docs/synthetic_calibration.md; the whole report takes minutes on a 2-core CPU.
  EPOCHS     ?= 15
  DNN_EPOCHS ?= 30
  TRAIN_FLAGS ?= --batch-size 16 --lr 3e-3
  DNN_FLAGS  ?= --batch-size 32 --lr 1e-3 --weight-decay 0
  # The controlled DNN of question 2: the CNN's recipe (its epochs, augmentation, Adam with weight decay 0.3)
  # but the DNN's batch and rate and no dropout: at the CNN's 16 and 3e-3, or with dropout 0.2 or 0.5,
  # it stays at the majority class for all 15 epochs (docs/synthetic_calibration.md).
  SAME_RECIPE_FLAGS ?= --batch-size 32 --lr 1e-3 --augment --weight-decay 0.3 --dense-dropout 0
else
  # The scripts' defaults.
  EPOCHS     ?= 100
  DNN_EPOCHS ?= 60
  TRAIN_FLAGS ?=
  DNN_FLAGS  ?=
  SAME_RECIPE_FLAGS ?= --augment --weight-decay 0.3 --dense-dropout 0
endif
STEPS ?= 190
ifeq ($(FORCE),1)
  MAKEFLAGS += -B
  RETRAIN := --force
endif

# Each model's inputs by content: the training code's fingerprint (ferlib.TRAINING_CODE and the trainer)
# and the flags, rewritten in models/.<name>.inputs only when they change. So a model is retrained when
# what its trainer computes would change, never for an edit of the report's words, an analysis script
# or a README, nor for a checkout that leaves the training code as it was.
CNN_ARGS  := --epochs $(EPOCHS) $(TRAIN_FLAGS)
DNN_ARGS  := --epochs $(DNN_EPOCHS) $(DNN_FLAGS)
SAME_ARGS := --name dnn_same_recipe --epochs $(EPOCHS) $(SAME_RECIPE_FLAGS)
_ := $(shell $(PYTHON) -m ferlib stamp models/.cnn.inputs train_cnn.py $(CNN_ARGS))
_ := $(shell $(PYTHON) -m ferlib stamp models/.dnn.inputs train_dnn.py $(DNN_ARGS))
_ := $(shell $(PYTHON) -m ferlib stamp models/.dnn_same_recipe.inputs train_dnn.py $(SAME_ARGS))

.PHONY: test report install clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-test.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-test.txt
	touch $@

# Two workers: much of the suite is starting Python, loading TensorFlow and tracing, on one core each;
# the tests of the quick trained models stay on one worker (xdist_group), which trains them once.
# CI=true (as CI sets it) also runs the tests marked long (pytest.ini): a minute or more each.
test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadgroup $(if $(filter true 1,$(CI)),-m "not slow") tests

report: report.md

ifeq ($(PRETRAINED),1)
# The shipped FER2013 runs copied into models/ (pretrained/ is only read); the analyses then run on your data.
models/cnn.json: $(wildcard pretrained/*_fer2013.*) $(DATA_FILE) | $(STAMP)
	$(PY) -m ferlib.shipped $(DATA_FILE)
models/dnn.json models/dnn_same_recipe.json: models/cnn.json ;
else
# A trainer run by make whose finished run has the same settings, code and data reuses it (seconds).
models/cnn.json: models/.cnn.inputs $(DATA_FILE) | $(STAMP)
	$(PY) train_cnn.py $(CNN_ARGS) $(RETRAIN)

models/dnn.json: models/.dnn.inputs $(DATA_FILE) | $(STAMP)
	$(PY) train_dnn.py $(DNN_ARGS) $(RETRAIN)

# Question 2's control: the DNN trained with the CNN's recipe, so the gap left is the layers'.
models/dnn_same_recipe.json: models/.dnn_same_recipe.inputs $(DATA_FILE) | $(STAMP)
	$(PY) train_dnn.py $(SAME_ARGS) $(RETRAIN)
endif

models/cnn.confusion.json: confusion.py models/cnn.json
	$(PY) confusion.py

models/cnn.saliency.json: saliency.py models/cnn.json
	$(PY) saliency.py

models/cnn.filters.json: filter_viz.py models/cnn.json
	$(PY) filter_viz.py --steps $(STEPS) --index 0

# PHOTO=path: your own photo read by faces.py, shown at the end of question 4.
ifneq ($(PHOTO),)
PHOTO_FIGURES := figures/$(basename $(notdir $(PHOTO))).expressions.png
$(PHOTO_FIGURES): $(PHOTO) faces.py | $(STAMP)
	$(PY) faces.py "$(PHOTO)" --saliency --out figures
	$(PY) faces.py "$(PHOTO)" --saliency --out figures --lang zh-TW
REPORT_PHOTO := --photo $(PHOTO_FIGURES)
endif

# report.html beside each .md: the file to hand in (figures embedded; print it to PDF from a browser).
report.md: make_report.py ferlib/words.py ferlib/report_html.py $(wildcard templates/*) models/cnn.json models/dnn.json models/dnn_same_recipe.json models/cnn.confusion.json models/cnn.saliency.json models/cnn.filters.json $(PHOTO_FIGURES)
	$(PY) make_report.py --collaborators "$(COLLABORATORS)" $(REPORT_PHOTO)
	$(PY) make_report.py --lang zh-TW --out report.zh-TW.md --collaborators "$(COLLABORATORS)" $(REPORT_PHOTO)

clean:
	find models -mindepth 1 ! -name README.md -exec rm -rf {} +; rm -rf .pytest_cache

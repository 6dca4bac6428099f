# make run   - set up .venv if needed, run the whole pipeline, print the report path
# make test  - set up .venv if needed, run the test suite
# make test-unit - the fast tier (tests/unit: no kernel, no subprocess, no server; under a minute)
# make test-slow - real-size checks (a few minutes)
# make bench - timings (windowing, epoch, full run, ONNX latency, resume, sweep, serving, the HTTP service under load, generator, tracking, a 12-trial search against a 3x3 grid: about an hour on 2 cores, most of it the search); not part of the tests
# make bench-accuracy - accuracy of the defaults over data sets (dwcp, legacy seeds 1-5, irish5g)
# make bench-scale - stage times and peak memory at 15,000 to 10,000,000 rows (about 20 minutes)
# make coverage - the test suite with line coverage of bwkit/
# make ui    - MLflow's UI over every tracked run (runs/mlflow.db), on 127.0.0.1:5000 (MLFLOW_UI_PORT)
# make node  - install the Node.js consumer's pinned onnxruntime-node (consumers/node), when npm is there
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.bwkit-installed

NODE_STAMP := consumers/node/node_modules/.bwkit-installed

.PHONY: run test test-unit test-slow coverage bench bench-accuracy bench-scale lab ui clean-runs node

$(STAMP): pyproject.toml
	@echo "bwkit: setting up $(VENV): pinned packages from pyproject.toml (the first time takes about 3 minutes; later runs skip this)"
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@echo "bwkit: registering the python3 kernel inside $(VENV) and the notebook output filter for git"
	# The kernel papermill and JupyterLab use: registered inside the venv, not in $$HOME.
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (bwkit)" >/dev/null
	# Outputs JupyterLab saves into notebooks/ never reach git: nbstripout strips them as a git filter.
	# --keep-id: the notebooks' cell ids are stable names, and committed notebooks are exactly what the filter writes,
	# so a fresh clone is clean to `git status` (which the kit records with every run). The refresh runs the
	# filter over every notebook once, here, so that the first run's record does not wait for it.
	if git rev-parse --git-dir >/dev/null 2>&1; then $(BIN)/nbstripout --install && \
	  git config filter.nbstripout.clean '"$(CURDIR)/$(BIN)/python" -m nbstripout --keep-id' && \
	  git update-index -q --refresh >/dev/null || true; fi
	touch $(STAMP)
	@echo "bwkit: set-up done"

run: $(STAMP)
	$(BIN)/bwkit run $(ARGS)

# Two pytest workers (pytest-xdist), a test file each at a time: most of the suite waits on kernels, clusters and
# servers, so two overlap well on two cores. PYTEST_WORKERS=0 runs it in one process.
PYTEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(PYTEST_WORKERS)),-p no:xdist,-n $(PYTEST_WORKERS) --dist loadfile)

test: $(STAMP) node
	$(BIN)/python -m pytest $(XDIST) $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit $(PYTEST_ARGS)

# The second runtime's test needs onnxruntime-node from the npm registry. --ignore-scripts: its install
# script only fetches optional CUDA libraries from nuget.org; the CPU runtime is in the npm package.
node:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_STAMP); \
	else echo "npm not found: the Node.js consumer's test will be skipped"; fi

$(NODE_STAMP): consumers/node/package-lock.json
	cd consumers/node && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

# Real-size checks: the README's headline numbers within tolerances, a notebook alone from its defaults,
# and the loader's property tests with many more generated files.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)
	HYPOTHESIS_PROFILE=slow $(BIN)/python -m pytest tests/unit/test_loader_properties.py $(PYTEST_ARGS)

coverage: $(STAMP)
	$(BIN)/python -m pytest $(XDIST) --cov=bwkit --cov-report=term $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/bench.py
	$(BIN)/python bench/bench_resume.py
	$(BIN)/python bench/bench_sweep.py
	$(BIN)/python bench/bench_predict.py
	$(BIN)/python bench/bench_serve.py
	$(BIN)/python bench/bench_generate.py
	$(BIN)/python bench/bench_tune.py

# Defaults on dwcp, legacy seeds 1-5 and the irish5g preset: one accuracy table (about 6 minutes).
bench-accuracy: $(STAMP)
	$(BIN)/python bench/bench_accuracy.py

# 15,000 / 150,000 / 1,500,000 rows with epochs=2 and 10,000,000 with epochs=1: time and the largest process's memory.
bench-scale: $(STAMP)
	$(BIN)/python bench/bench_scale.py

# JupyterLab refuses root unless told; containers often run as root. exec: the PID make prints is Jupyter's own,
# so `kill <pid>` stops it. LAB_ARGS passes anything else, e.g. make lab LAB_ARGS="--ip 127.0.0.1 --port 8899 --no-browser"
lab: $(STAMP)
	exec $(BIN)/jupyter lab notebooks/ $$(if [ "$$(id -u)" = 0 ]; then echo --allow-root; fi) $(LAB_ARGS)

# exec: the shell becomes mlflow, so the PID make started is the server's and stopping it stops the UI.
MLFLOW_UI_PORT ?= 5000
# MLflow's job runner (its GenAI jobs' workers: eight more processes, 19-25 s of CPU to start against 8 s without on
# 2 cores, bench/mlflow_server_cost.py) serves nothing a bwkit run logs: off unless the environment turns it on.
ui: $(STAMP)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=$${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false} \
	exec $(BIN)/mlflow ui --host 127.0.0.1 --port $(MLFLOW_UI_PORT) --workers 1 --backend-store-uri "sqlite:///$(CURDIR)/runs/mlflow.db" \
	  --default-artifact-root "$(CURDIR)/runs/mlartifacts"

clean-runs:
	rm -rf runs/*/ runs/index.html

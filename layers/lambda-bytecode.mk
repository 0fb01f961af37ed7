# Bytecode for the Lambda runtime, included by layers/smsconsent/Makefile and
# functions/Makefile (sam build runs them with --makefile, so this path resolves from there;
# a container build mounts only their own folders, and they build without bytecode).
#
# Lambda's /opt and /var/task are read-only: Python cannot cache bytecode there, so code
# shipped as source alone is compiled again at every cold start (1.3x to 1.7x the import
# floor, `make bench`). Bytecode must come from the runtime's own minor version, whose magic
# number the import checks, so any python3.13 will do. unchecked-hash: a zip does not keep
# timestamps exactly, and nothing changes the source on Lambda.

LAMBDA_PYTHON_VERSION := 3.13
# Exits non-zero, saying why, unless the Python that runs it is $(LAMBDA_PYTHON_VERSION).
IS_LAMBDA_PYTHON := import sys; v = "%d.%d" % sys.version_info[:2]; \
	sys.exit(None if v == "$(LAMBDA_PYTHON_VERSION)" else f"Python {v} is not $(LAMBDA_PYTHON_VERSION)")

# A working python3.13: on PATH, else pyenv's (its shim fails when 3.13 is not selected).
# Override with LAMBDA_PYTHON=/path/to/python3.13; LAMBDA_PYTHON= (empty) builds without.
ifndef LAMBDA_PYTHON
LAMBDA_PYTHON := $(shell \
	for candidate in python$(LAMBDA_PYTHON_VERSION) \
		"$$(PYENV_VERSION=$(LAMBDA_PYTHON_VERSION) pyenv which python$(LAMBDA_PYTHON_VERSION) 2>/dev/null)"; do \
		if [ -n "$$candidate" ] && "$$candidate" -c '$(IS_LAMBDA_PYTHON)' 2>/dev/null; then \
			echo "$$candidate"; break; \
		fi; \
	done)
endif

# $(call compile_for_lambda,<folder>): compile every module under <folder> for the runtime,
# or warn (and still build) when no python3.13 is found. A LAMBDA_PYTHON of another
# version fails the build: its bytecode would never be used.
define compile_for_lambda
	@if [ -n "$(LAMBDA_PYTHON)" ]; then \
		"$(LAMBDA_PYTHON)" -c '$(IS_LAMBDA_PYTHON)' || { echo "LAMBDA_PYTHON=$(LAMBDA_PYTHON) cannot compile for Lambda" >&2; exit 1; }; \
		"$(LAMBDA_PYTHON)" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$(1)" \
			|| { echo "compileall failed for $(1)" >&2; exit 1; }; \
	else \
		echo "warning: no python$(LAMBDA_PYTHON_VERSION) found (set LAMBDA_PYTHON): $(1) ships without bytecode, so every cold start compiles it" >&2; \
	fi
endef

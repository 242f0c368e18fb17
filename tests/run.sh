#!/bin/sh
# Run the whole test suite: a private venv (.venv) with the package and its test
# dependencies, then pytest. Extra arguments go to pytest (e.g. `sh tests/run.sh -k login`).
set -eu
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
exec .venv/bin/python -m pytest "$@"

#!/bin/sh
# Run the whole test suite against the package as users install it: a wheel built from this
# checkout, installed (not editable) into a private venv (.venv) with the test dependencies,
# then the venv's own pytest, so that every import comes from the installed wheel and a module
# missing from the wheel fails the suite. Extra arguments go to pytest
# (e.g. `sh tests/run.sh -k login`, `sh tests/run.sh tests/test_policy.py`).
#
# BBTOKEN_EDITABLE=1 installs the checkout editable instead (no wheel is built; imports come
# from the checkout), for quick iterations; CI never sets it.
set -eu
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
pip() {
    .venv/bin/python -m pip -q --disable-pip-version-check "$@"
}
if [ "${BBTOKEN_EDITABLE:-0}" = 1 ]; then
    pip install -e '.[test]'
    BBTOKEN_TEST_INSTALL=editable
else
    wheels="$(mktemp -d)"
    # setuptools builds in ./build and never deletes from it: a module removed from the
    # checkout (or left out by the package list) would still reach the wheel from there.
    rm -rf build ./*.egg-info
    pip wheel --no-deps -w "$wheels" .
    set -- "$wheels"/git_credential_bbtoken-*.whl "$@"
    wheel="$1"
    shift
    # --force-reinstall: replaces an editable install, or a wheel of the same version.
    pip install --force-reinstall --no-deps "$wheel"
    pip install "$wheel[test]"
    rm -rf "$wheels" build ./*.egg-info
    BBTOKEN_TEST_INSTALL=wheel
fi
# tests/conftest.py checks that the package under test really comes from where this says.
export BBTOKEN_TEST_INSTALL
# The venv's pytest, not `python -m pytest`: that would put the checkout (the current folder)
# first on sys.path, and the tests would import the checkout instead of the installed wheel.
exec .venv/bin/pytest "$@"

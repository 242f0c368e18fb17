#!/bin/sh
# Print the bin folder of a git >= 2.46 built from Debian 13's source package (git 2.47), for
# the tests of protocol features newer than Debian 12's git 2.39 (password_expiry_utc needs
# 2.41, capability[]/authtype 2.46). The source tree is kept beside it because it carries
# git's own external-helper battery (t/t0303-credential-external.sh), which the tests run.
# Built once into a folder outside the repository; later runs reuse it.
set -eu

PREFIX="${BBTOKEN_NEWER_GIT_PREFIX:-/opt/bbtoken-ci/git}"

version_ok() {  # $1 = path to a git binary
    "$1" --version 2>/dev/null | awk '{ split($3, v, "."); exit !((v[1] > 2) || (v[1] == 2 && v[2] >= 46)) }'
}

if [ -x "$PREFIX/bin/git" ] && version_ok "$PREFIX/bin/git" \
        && [ -x "$PREFIX/src/t/helper/test-tool" ]; then
    echo "$PREFIX/bin"
    exit 0
fi

{
    cat > /etc/apt/sources.list.d/bbtoken-trixie-src.sources <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        dpkg-dev build-essential libcurl4-openssl-dev libexpat1-dev zlib1g-dev libssl-dev
    # Built where it stays: git's test scripts (t/t0303, our battery run) hold absolute paths.
    rm -rf "$PREFIX"
    mkdir -p "$PREFIX"
    cd "$PREFIX"
    apt-get source -q --only-source git/trixie
    rm -f git_*
    mv git-*/ src
    cd src
    make -j"$(nproc)" prefix="$PREFIX" NO_GETTEXT=1 NO_TCLTK=1 NO_PERL=1 NO_PYTHON=1 \
        NO_INSTALL_HARDLINKS=1 all install
} >&2
echo "$PREFIX/bin"

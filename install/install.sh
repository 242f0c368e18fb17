#!/bin/sh
# Install git-credential-bbtoken into an isolated environment and wire it into git.
#
#   sh install/install.sh                     install or upgrade, then `git credential-bbtoken setup`
#   sh install/install.sh --uninstall         undo setup and remove the environment (tokens kept)
#   sh install/install.sh --uninstall --purge ... and remove the stored tokens too
#
# Uses pipx when present (BBTOKEN_NO_PIPX=1 to skip it), else a private venv under the user's
# data folder with a link in ~/.local/bin (BBTOKEN_BIN_DIR to change) and one to the manual
# page in the share/man/man1 beside it (~/.local/share/man/man1), which `man` finds from PATH.
# Installs from the repository this script sits in, or from PyPI when run on its own
# (BBTOKEN_SOURCE overrides).
set -eu

NAME=git-credential-bbtoken
action=install
purge=no
for arg in "$@"; do
    case "$arg" in
        --uninstall) action=uninstall ;;
        --purge) purge=yes ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

here=$(cd "$(dirname "$0")/.." 2>/dev/null && pwd || echo "")
if [ -n "${BBTOKEN_SOURCE:-}" ]; then
    source_spec=$BBTOKEN_SOURCE
elif [ -n "$here" ] && [ -f "$here/pyproject.toml" ] && grep -q "name = \"$NAME\"" "$here/pyproject.toml"; then
    source_spec=$here
else
    source_spec=$NAME
fi

data_home=${XDG_DATA_HOME:-$HOME/.local/share}
venv=$data_home/$NAME/venv
bin_dir=${BBTOKEN_BIN_DIR:-$HOME/.local/bin}
# man looks in <dir>/../share/man for each <dir> on PATH: `git credential-bbtoken --help` runs
# `man git-credential-bbtoken`. (pipx 1.5 and newer link it into ~/.local/share/man itself.)
man_page=$(dirname "$bin_dir")/share/man/man1/$NAME.1
venv_man_page=$venv/share/man/man1/$NAME.1

python=""
for candidate in python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 9))' 2>/dev/null; then
        python=$candidate
        break
    fi
done

use_pipx=no
if [ "${BBTOKEN_NO_PIPX:-}" != 1 ] && command -v pipx >/dev/null 2>&1; then
    use_pipx=yes
fi

find_installed() {
    if [ -x "$venv/bin/$NAME" ]; then
        echo "$venv/bin/$NAME"
    elif command -v "$NAME" >/dev/null 2>&1; then
        command -v "$NAME"
    fi
}

if [ "$action" = uninstall ]; then
    exe=$(find_installed)
    if [ -n "$exe" ]; then
        # Every URL setup wired in the global config (each left a bbtoken.<url>.setup marker).
        git config --global --name-only --get-regexp '^bbtoken\..*\.setup$' 2>/dev/null |
            while IFS= read -r key; do
                url=${key#bbtoken.}
                "$exe" setup "${url%.setup}" --undo || true
            done
        if [ "$purge" = yes ]; then
            "$exe" logout --everything || true
        fi
    fi
    if [ -d "$venv" ]; then
        rm -rf "$venv"
        rm -f "$bin_dir/$NAME"
        # only our own link: pipx links its copy to the same place
        if [ -L "$man_page" ] && [ "$(readlink "$man_page")" = "$venv_man_page" ]; then
            rm -f "$man_page"
        fi
    elif [ "$use_pipx" = yes ]; then
        pipx uninstall "$NAME" >/dev/null 2>&1 || true
    fi
    echo "git-credential-bbtoken is uninstalled.$( [ "$purge" = yes ] || echo ' Stored tokens were kept (use --purge to remove them).')"
    exit 0
fi

if [ "$use_pipx" = yes ]; then
    pipx install --force "$source_spec"
    exe=$(command -v "$NAME" || echo "$HOME/.local/bin/$NAME")
else
    if [ -z "$python" ]; then
        echo "install.sh: Python 3.9 or newer is needed (python3 was not found)" >&2
        exit 1
    fi
    mkdir -p "$data_home/$NAME" "$bin_dir"
    chmod 700 "$data_home/$NAME"
    if [ ! -x "$venv/bin/python" ]; then
        "$python" -m venv "$venv"
    fi
    # pip 25 and newer write console scripts that do not import `re`: about 10 ms less on
    # every `get` git runs (pipx keeps its own pip up to date).
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip ||
        echo "install.sh: could not upgrade pip; the helper works, each fetch only pays ~10 ms more" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade "$source_spec"
    ln -sf "$venv/bin/$NAME" "$bin_dir/$NAME"
    if [ -f "$venv_man_page" ]; then  # an older release from PyPI has none
        mkdir -p "$(dirname "$man_page")"
        ln -sf "$venv_man_page" "$man_page"
    fi
    exe=$venv/bin/$NAME
fi

"$exe" setup
echo
echo "Installed $("$exe" --version)."
login_cmd="git credential-bbtoken login"
case ":$PATH:" in
    *":$bin_dir:"*) ;;
    *)
        if [ "$use_pipx" != yes ]; then
            echo "Note: $bin_dir is not on your PATH. git finds the helper anyway (setup wrote its"
            echo "      full path); to type its commands, add: export PATH=\"$bin_dir:\$PATH\""
            login_cmd="$exe login"
        fi
        ;;
esac
echo "Next: create an API token with scopes at https://id.atlassian.com/manage-profile/security/api-tokens"
echo "      then run: $login_cmd https://bitbucket.org/WORKSPACE --email YOUR_EMAIL"

# Shell functions shared by the test scripts that run a pytest suite in its own venv.
# Source it from a script whose working directory is the repository root.

step() { printf '\n==> %s\n' "$*"; }

# Installs the given Debian packages (and python3 / python3-venv when Python cannot make a venv)
# with apt-get, only when something is missing.
ensure_packages() {
    local missing=()
    command -v python3 >/dev/null || missing+=(python3)
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        missing+=(python3-venv)
    fi
    local pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if ((${#missing[@]})); then
        step "installing system packages: ${missing[*]}"
        local sudo=""
        [[ $(id -u) -eq 0 ]] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    fi
}

# run_pytest_suite DIR WHAT: a venv in DIR/.venv with DIR/requirements.txt, then pytest in DIR.
# A suite that collects no tests fails (pytest exit status 5), so a broken suite cannot pass.
run_pytest_suite() {
    local dir=$1 what=$2
    local venv=$dir/.venv
    if [[ ! -x $venv/bin/python ]] || ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1; then
        step "creating $venv"
        rm -rf "$venv"
        python3 -m venv "$venv"
    fi
    step "installing the Python test dependencies ($dir/requirements.txt)"
    "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$dir/requirements.txt"

    step "pytest: $what"
    local status=0
    (cd "$dir" && .venv/bin/python -m pytest) || status=$?
    if ((status == 5)); then
        echo "pytest collected no tests: the suite in $dir is missing or broken" >&2
        exit 1
    elif ((status != 0)); then
        exit "$status"
    fi
}

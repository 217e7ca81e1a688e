# Sourced by the scripts: creates .venv (or $CANARIST_VENV) and installs canarist with the
# requested extras, once per change of pyproject.toml.
VENV=${CANARIST_VENV:-.venv}
ensure_venv() {
    local extras=${1:-fast}
    local py
    py=$(command -v python3.11 || command -v python3)
    if [ ! -x "$VENV/bin/python" ]; then
        "$py" -m venv "$VENV"
    fi
    local stamp
    stamp="$VENV/.installed-$extras-$(cat pyproject.toml | sha256sum | cut -c1-16)"
    if [ ! -f "$stamp" ]; then
        "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
        "$VENV/bin/python" -m pip install -q -e ".[$extras]"
        touch "$stamp"
    fi
}

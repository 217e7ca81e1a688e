# Sourced by the scripts: creates .venv (or $CANARIST_VENV) and installs canarist with the
# requested extras, once per change of pyproject.toml.
VENV=${CANARIST_VENV:-.venv}
HELM_SDKPY=helm-sdkpy==0.1.32
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
        if [ "$extras" = test ]; then
            # Helm's Go library, for the tests that run Helm against the embedded cluster. Its
            # metadata asks for Python 3.12, but it runs on 3.11; pip must be told to skip that.
            "$VENV/bin/python" -m pip install -q --ignore-requires-python "$HELM_SDKPY"
        fi
        touch "$stamp"
    fi
    if [ "$extras" = test ]; then
        ensure_chromium
    fi
}

# The dashboard's browser tests run Debian's chromium through Playwright (executable_path);
# Playwright's own browser download is never used.
# Without it (no apt-get, not root) those tests are skipped, with a warning here.
ensure_chromium() {
    if [ -x /usr/bin/chromium ]; then
        return 0
    fi
    if command -v apt-get >/dev/null && apt-get update -qq >/dev/null 2>&1 && \
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1; then
        return 0
    fi
    echo "warning: could not install chromium with apt-get; the dashboard's browser tests" \
         "will be skipped" >&2
}

# Sourced by scripts/demo and scripts/test: make .venv (once) and install the project into it.
# Re-running is cheap: pip only reinstalls when the project changed.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv="${SECUREHTTP_VENV:-$root/.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python=${PYTHON:-python3}
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
    || { echo "securehttp needs Python 3.10 or newer: $python is older or cannot run; set PYTHON=..." >&2; exit 2; }
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
stamp="$venv/.securehttp-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install --quiet -e ".[dev]"
  touch "$stamp"
fi

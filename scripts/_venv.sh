# Sourced by scripts/demo and scripts/test: make .venv (once) and install the project into it.
# Re-running is cheap: pip only reinstalls when the project changed.  PYTHON=... picks the
# interpreter; an existing .venv made with another one is recreated.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
venv="${SECUREHTTP_VENV:-$root/.venv}"
python=${PYTHON:-python3}
version='import sys; print(sys.version)'
usable() {
  "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null \
    || { echo "securehttp needs Python 3.10 or newer: $python is older or cannot run; set PYTHON=..." >&2; exit 2; }
}
recreate=0
if [ ! -x "$venv/bin/python" ]; then
  usable
  recreate=1
elif ! have=$("$venv/bin/python" -c "$version" 2>/dev/null); then
  usable
  echo "securehttp: $venv no longer runs; recreating it with $python" >&2
  recreate=1
elif [ -n "${PYTHON:-}" ]; then
  usable
  if [ "$have" != "$("$python" -c "$version")" ]; then
    echo "securehttp: $venv has Python ${have%% *}, PYTHON=$python is another; recreating it" >&2
    recreate=1
  fi
fi
if [ "$recreate" = 1 ]; then
  # --clear empties an existing environment first (and with it the install stamp below).
  "$python" -m venv --clear "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
stamp="$venv/.securehttp-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  # setuptools announces every editable install with an "Editable installation." notice
  # (an InformationOnly warning that pip shows as a banner); that one notice is expected
  # here, so it alone is filtered and every other warning still shows.
  PYTHONWARNINGS="ignore:Editable installation:UserWarning" \
    "$venv/bin/python" -m pip install --quiet -e ".[dev]"
  touch "$stamp"
fi

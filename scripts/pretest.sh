#!/usr/bin/env bash
# Run by `npm test` before the suite: the real parts the tests start must be on this machine.
# - Debian packages: chromium (browser tests), nginx-light (proxy matrix), python3-venv, and
#   python3-fastapi / python3-uvicorn (the backend also runs on Debian's own versions).
# - .venv (gitignored): fastapi, uvicorn and sse-starlette for the Python test targets.
# Fast when nothing is missing; installs what it can (root or sudo); otherwise one line saying
# what to install, and a non-zero exit.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PYPI_MIRROR=/opt/pypi/simple
PY_MODULES=(fastapi uvicorn sse_starlette)
PIP_PACKAGES=(fastapi uvicorn sse-starlette)

missing_debs() {
  command -v chromium >/dev/null 2>&1 || [ -x "${SSE_DOCTOR_CHROMIUM:-/usr/bin/chromium}" ] || echo chromium
  command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || echo nginx-light
  # find_spec looks the modules up without importing them: milliseconds, not seconds.
  /usr/bin/python3 -c '
import importlib.util
for package, module in (("python3-venv", "ensurepip"), ("python3-fastapi", "fastapi"), ("python3-uvicorn", "uvicorn")):
    if importlib.util.find_spec(module) is None:
        print(package)' 2>/dev/null || echo python3 python3-venv python3-fastapi python3-uvicorn
}

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo "$@"
  else return 1
  fi
}

venv_ready() {
  [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c "
import importlib.util, sys
sys.exit(any(importlib.util.find_spec(module) is None for module in '${PY_MODULES[*]}'.split()))" 2>/dev/null
}

debs=$(missing_debs | tr '\n' ' ')
if [ -n "$debs" ]; then
  echo "pretest: installing $debs" >&2
  # shellcheck disable=SC2086
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $debs >/dev/null 2>&1 ||
    { as_root apt-get update -qq >/dev/null 2>&1 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $debs >/dev/null 2>&1; }
fi

if ! venv_ready; then
  echo "pretest: building $VENV with ${PIP_PACKAGES[*]}" >&2
  base_python=/usr/bin/python3
  [ -x "$base_python" ] || base_python=$(command -v python3 || true)
  index=()
  [ -d "$PYPI_MIRROR" ] && index=(--index-url "file://$PYPI_MIRROR")
  rm -rf "$VENV"
  { [ -n "$base_python" ] && "$base_python" -m venv "$VENV" &&
    "$VENV/bin/pip" install -q --disable-pip-version-check --retries 0 --timeout 10 "${index[@]}" "${PIP_PACKAGES[@]}"; } >/dev/null 2>&1
fi

still=$debs
[ -n "$debs" ] && still=$(missing_debs | tr '\n' ' ')
advice=()
[ -n "${still// /}" ] && advice+=("apt-get install -y ${still% }")
venv_ready || advice+=("python3 -m venv $VENV && $VENV/bin/pip install ${PIP_PACKAGES[*]}")
if [ ${#advice[@]} -gt 0 ]; then
  joined=$(printf ' && %s' "${advice[@]}")
  echo "pretest: the tests need software this machine lacks and could not install; run: ${joined# && }" >&2
  exit 1
fi

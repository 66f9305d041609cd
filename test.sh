#!/usr/bin/env bash
# Runs every test of the repository: the .NET solution and the Python training code.
# Installs what it needs (Debian packages through apt) when missing. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")"

PY=/usr/bin/python3   # Debian's python: python3-torch & co. live there, not in pyenv's.
need=()
for pkg in python3-torch python3-numpy python3-pytest; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "test.sh: installing ${need[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
# Peers and reference code at their best on this machine (see ../shared/ENVIRONMENT.md).
unset OPENBLAS_CORETYPE
export OMP_WAIT_POLICY=PASSIVE

status=0
echo "== python tests (src/training)"
(cd src/training && "$PY" -m pytest -q -p no:cacheprovider) || status=1

echo "== dotnet tests (Retro.sln)"
dotnet build Retro.sln -c Release --nologo -v q -clp:ErrorsOnly || exit 1
set +e
dotnet test Retro.sln -c Release --no-build --nologo -v q --logger "console;verbosity=normal" 2>&1 \
  | grep -vE '^\s+Passed '
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || status=1
echo "test.sh: $([ $status = 0 ] && echo OK || echo FAILED)"
exit $status

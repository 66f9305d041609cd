#!/usr/bin/env bash
# Runs every test of the repository: the .NET solution and the Python training code.
# Installs what it needs (Debian packages through apt) when missing. Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")"

PY=/usr/bin/python3   # Debian's python: python3-torch & co. live there, not in pyenv's.
# python3-onnx checks the ONNX exports (src/training/export_onnx.py); chromium drives the service's page in the browser test (Playwright, with the system browser);
# libopenblas0-pthread gives torch an optimised BLAS (with Debian's reference BLAS the training tests run ~15x slower);
# python3-hnswlib is the hnsw benchmark's peer (tests/Retro.Benchmarks/peers/hnsw_peer.py).
.ci/apt-need.sh python3-torch python3-numpy python3-pytest python3-onnx chromium libopenblas0-pthread python3-hnswlib

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
log=$(mktemp)
dotnet test Retro.sln -c Release --no-build --nologo -v q --logger "console;verbosity=normal" 2>&1 \
  | grep -vE '^\s+Passed ' | tee "$log"
rc=${PIPESTATUS[0]}
set -e
[ "$rc" = 0 ] || status=1
# The summary last, so that a truncated log still shows what failed and what was skipped.
echo "== summary"
grep -E '^\s+Failed [A-Za-z]' "$log" | sed -E 's/^\s*/  /' || true
grep -E '^\s+Skipped [A-Za-z]' "$log" | sed -E 's/^\s*Skipped ([A-Za-z0-9_.]+)\.[A-Za-z0-9_]+.*/\1/' | sort | uniq -c \
  | awk '{printf "  skipped %3d in %s\n", $1, $2}' || true
awk '/^ *Total tests:/{t+=$3} /^ *Passed:/{p+=$2} /^ *Failed:/{f+=$2} /^ *Skipped:/{k+=$2} END{printf "  dotnet: %d tests, %d passed, %d failed, %d skipped\n", t, p, f, k}' "$log"
rm -f "$log"
echo "test.sh: $([ $status = 0 ] && echo OK || echo FAILED)"
exit $status

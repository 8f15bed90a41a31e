#!/usr/bin/env bash
# The hub path rehearsed end to end: the loopback hub of tests/loopback_hub on 127.0.0.1, a fresh
# Hugging Face cache, no local data folder; then `make reproduce PROFILE=rehearsal` (six stages) and
# `make verify PROFILE=rehearsal`. The loopback answers large files as the hub does today (a
# redirect naming Xet storage, --xet), which the project follows over plain HTTP (HF_HUB_DISABLE_XET=1,
# qarepro/hub.py), and has no squad_adversarial export (that set is reported "not run").
# Writes outputs/bench/hub_rehearsal.json: the stages completed, where every dataset came from and
# which were not run, and every request the hub served. Exit status: that of the run.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
PROFILE=rehearsal
work=$(mktemp -d "${TMPDIR:-/tmp}/qarepro-rehearsal.XXXXXX")
server=""
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then kill -TERM "$server"; wait "$server" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

unset HF_HUB_OFFLINE HF_DATASETS_OFFLINE TRANSFORMERS_OFFLINE QAREPRO_DATA_DIR
export HF_HOME="$work/hf" HF_HUB_DISABLE_TELEMETRY=1 HF_HUB_DISABLE_PROGRESS_BARS=1
export QAREPRO_OUTPUTS="${QAREPRO_OUTPUTS:-$work/outputs}"

"$PY" -m tests.loopback_hub --cache "${QAREPRO_HUB_CACHE:-$work/hub}" --url-file "$work/url" \
  --record "$work/requests.json" --xet > "$work/hub.log" 2>&1 &
server=$!
for _ in $(seq 300); do [ -s "$work/url" ] && break; kill -0 "$server" || { cat "$work/hub.log"; exit 1; }; sleep 0.2; done
export HF_ENDPOINT; HF_ENDPOINT=$(cat "$work/url")
echo "[rehearsal] loopback hub at $HF_ENDPOINT; HF cache and outputs in a fresh temporary folder"

# before the GPU: fetch every dataset and model into the fresh cache and check that each loads
start=$SECONDS
status=0
"$PY" -m qarepro preflight --profile $PROFILE --download --out outputs/bench/preflight_download_rehearsal.json \
  | tee outputs/bench/preflight_download_rehearsal.txt || status=$?
preflight_s=$((SECONDS - start))

start=$SECONDS
if [ $status -eq 0 ]; then make --no-print-directory reproduce PROFILE=$PROFILE || status=$?; fi
reproduce_s=$((SECONDS - start))
if [ $status -eq 0 ]; then make --no-print-directory verify PROFILE=$PROFILE || status=$?; fi
total_s=$((SECONDS - start))

kill -TERM "$server"; wait "$server" || true; server=""
"$PY" scripts/hub_rehearsal_record.py --profile $PROFILE --outputs "$QAREPRO_OUTPUTS" --requests "$work/requests.json" \
  --status $status --preflight-seconds $preflight_s --reproduce-seconds $reproduce_s --total-seconds $total_s \
  --out outputs/bench/hub_rehearsal.json
exit $status

#!/usr/bin/env bash
# Smoke-profile guarantees, checked end to end (CI runs this after the tests):
#   1. a clean `make smoke` renders all six reports and writes every stage's metrics;
#   2. a second clean run in another folder gives the same metric values;
#   3. a run killed midway and restarted finishes without redoing the stages it had finished;
#   4. one cell of the ablation grid, trained again from scratch, gives the grid's metrics.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
work=$(mktemp -d /tmp/qarepro-smoke-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
stages=(01_data_prep 02_teachers 03_distill 04_evaluate 05_ablations 06_report)

echo "== 1. clean run (A)"
start=$(date +%s)
QAREPRO_OUTPUTS="$work/A" make --no-print-directory smoke
echo "smoke run A took $(( $(date +%s) - start )) s"
for s in "${stages[@]}"; do
  test -s "$work/A/smoke/$s.json" || { echo "missing metrics of $s"; exit 1; }
  test -s "$work/A/reports/smoke/$s.html" || ls "$work/A/reports/smoke/$s"-*.html >/dev/null \
    || { echo "missing report of $s"; exit 1; }
done
echo "all six stages wrote metrics and reports"

echo "== 2+3. run B, killed during 03_distill, then restarted"
export QAREPRO_OUTPUTS="$work/B"
setsid make --no-print-directory smoke > "$work/B.log" 2>&1 &
pid=$!
# kill once 02 is finished and make has moved on (a kill inside a recipe rightly drops its target)
until grep -qs "running 03_distill" "$work/B.log"; do
  kill -0 "$pid" 2>/dev/null || { cat "$work/B.log"; echo "run B ended early"; exit 1; }
  sleep 1
done
kill -TERM -- "-$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
done_before=$(cd "$work/B/smoke" && ls 0*.json)
before=$(cd "$work/B/smoke" && stat -c '%n %Y' $done_before)
echo "killed after: $(echo $done_before)"
make --no-print-directory smoke > "$work/B2.log" 2>&1 || { cat "$work/B2.log"; exit 1; }
after=$(cd "$work/B/smoke" && stat -c '%n %Y' $done_before)
[ "$before" = "$after" ] || { echo "finished stages were redone:"; echo "$before"; echo "$after"; exit 1; }
for f in $done_before; do
  if grep -q "running ${f%.json} " "$work/B2.log"; then echo "restart reran finished stage ${f%.json}"; exit 1; fi
done
echo "restart ran only: $(grep '^\[qarepro\]' "$work/B2.log" | grep -oE 'running [0-9a-z_-]+' | cut -d' ' -f2 | tr '\n' ' ')"
unset QAREPRO_OUTPUTS

$PY -m qarepro compare "$work/A" "$work/B" --profile smoke

echo "== 4. one grid cell again (scripts/rerun_cell.py)"
QAREPRO_OUTPUTS="$work/A" $PY scripts/rerun_cell.py --profile smoke --card bert-medium-squad2-distilled \
  --factor train_size --value 100 --seed 42 --arm distilled
echo "smoke checks: 4 passed, 0 failed"

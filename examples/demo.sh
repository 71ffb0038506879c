#!/usr/bin/env bash
# The main job, end to end, on embedded defaults: a local hub, a real model, real photos.
#   predict → sample → limit → prepare → spool → upload → visible in the hub.
set -euo pipefail
cd "$(dirname "$0")/.."
FS=${FRAMESIFT:-.venv/bin/framesift}
OUT=${DEMO_DIR:-demo-out}
PORT=${DEMO_HUB_PORT:-9277}
rm -rf "$OUT"
mkdir -p "$OUT"
"$FS" hub new-key "$OUT/hub-keys" > "$OUT/api-key"
"$FS" hub --data "$OUT/hub-data" --listen "127.0.0.1:$PORT" --keys-file "$OUT/hub-keys" > "$OUT/hub.log" 2>&1 &
HUB_PID=$!
trap 'kill $HUB_PID 2>/dev/null || true; wait $HUB_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done

echo "== 1. predict: the model on every photo"
"$FS" predict tests/data --model nudenet/1 --batch-size 4 --output "$OUT/predictions.jsonl"

echo "== 2. sample: dry run of the active-learning config on those predictions"
"$FS" sample --config examples/demo_active_learning.json --predictions "$OUT/predictions.jsonl" \
  --seed 1 --output "$OUT/decisions.jsonl"

echo "== 3. scan: predict + select + spool + upload into the local hub"
"$FS" scan tests/data --model nudenet/1 --config examples/demo_active_learning.json --seed 1 \
  --state-dir "$OUT/state" --output "$OUT/selected.jsonl" \
  --dest "http://127.0.0.1:$PORT" --project demo --api-key-file "$OUT/api-key"

echo "== 4. the hub now holds the selected frames with draft annotations"
"$FS" spool --spool "$OUT/state/spool" stats
curl -s "http://127.0.0.1:$PORT/demo-ws/demo/batches?api_key=$(cat "$OUT/api-key")"; echo
find "$OUT/hub-data/projects" -type f | sort
"$FS" hub export --data "$OUT/hub-data" --project demo --format coco "$OUT/export-coco"
echo "demo done: open http://127.0.0.1:$PORT/ while a hub runs, or look in $OUT/"

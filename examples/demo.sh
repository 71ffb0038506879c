#!/usr/bin/env bash
# The main job, end to end: a local hub, a real model, the sample photos in examples/frames.
#   predict → sample → limit → prepare → spool → upload → visible in the hub.
# DEMO_HUB_PORT picks the hub's port (must be free); without it 9277 is used, or a free port
# when 9277 is taken.
set -euo pipefail
cd "$(dirname "$0")/.."
FS=${FRAMESIFT:-.venv/bin/framesift}
PY=${PYTHON:-.venv/bin/python}
OUT=${DEMO_DIR:-demo-out}
FRAMES=examples/frames
CONFIG=examples/active_learning.json

port_is_free() {
  "$PY" -c 'import socket, sys
s = socket.socket()
try: s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError: sys.exit(1)' "$1"
}
if [ -n "${DEMO_HUB_PORT:-}" ]; then
  PORT=$DEMO_HUB_PORT
  if ! port_is_free "$PORT"; then
    echo "demo: port $PORT (DEMO_HUB_PORT) is already in use; free it or choose another port" >&2
    exit 1
  fi
else
  PORT=9277
  if ! port_is_free "$PORT"; then
    PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "demo: port 9277 is in use; the hub listens on $PORT instead"
  fi
fi

rm -rf "$OUT"
mkdir -p "$OUT"
"$FS" hub new-key "$OUT/hub-keys" > "$OUT/api-key"
"$FS" hub --data "$OUT/hub-data" --listen "127.0.0.1:$PORT" --keys-file "$OUT/hub-keys" > "$OUT/hub.log" 2>&1 &
HUB_PID=$!
trap 'kill $HUB_PID 2>/dev/null || true; wait $HUB_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  kill -0 "$HUB_PID" 2>/dev/null || break
  curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
if ! kill -0 "$HUB_PID" 2>/dev/null || ! curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1; then
  echo "demo: the hub did not start on 127.0.0.1:$PORT; its log ($OUT/hub.log) says:" >&2
  tail -n 5 "$OUT/hub.log" >&2
  exit 1
fi
echo "hub running on http://127.0.0.1:$PORT/ (data in $OUT/hub-data)"

echo "== 1. predict: the model on every photo in $FRAMES"
"$FS" predict "$FRAMES" --model nudenet/1 --batch-size 4 --output "$OUT/predictions.jsonl"

echo "== 2. sample: dry run of $CONFIG on those predictions"
"$FS" sample --config "$CONFIG" --predictions "$OUT/predictions.jsonl" \
  --seed 1 --output "$OUT/decisions.jsonl"

echo "== 3. scan: predict + select + spool + upload into the local hub"
"$FS" scan "$FRAMES" --model nudenet/1 --config "$CONFIG" --seed 1 \
  --state-dir "$OUT/state" --output "$OUT/selected.jsonl" \
  --dest "http://127.0.0.1:$PORT" --project demo --api-key-file "$OUT/api-key"

echo "== 4. the frames selected, and why"
"$PY" - "$OUT/selected.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    s = json.loads(line)
    top = s["top"]
    seen = f"{top['class']} {top['confidence']:.2f}" if top else "nothing detected"
    print(f"  {s['path']:<32} strategy {s['strategy']:<11} (matched {', '.join(s['matched'])}; top: {seen})")
EOF

echo "== 5. the hub now holds them with draft annotations"
"$FS" spool --spool "$OUT/state/spool" stats
curl -s "http://127.0.0.1:$PORT/demo-ws/demo/batches?api_key=$(cat "$OUT/api-key")"; echo
"$FS" hub export --data "$OUT/hub-data" --project demo --format coco "$OUT/export-coco"
find "$OUT/export-coco" -type f | sort

kill "$HUB_PID" 2>/dev/null || true
wait "$HUB_PID" 2>/dev/null || true
trap - EXIT
echo "demo done: the hub has stopped; everything is in $OUT/ (browse it again with:" \
  "$FS hub --data $OUT/hub-data --keys-file $OUT/hub-keys --listen 127.0.0.1:$PORT, then open http://127.0.0.1:$PORT/)"

#!/usr/bin/env bash
# The GPU training run behind the shipped reader (docs/reader.md): three settings trained side by side
# on one GPU, each fitted to the same time budget; the one with the best dev answerable F1 + no-answer
# AUC (the shared SQuAD 2.0 dev articles: model selection only) is kept.
# Usage: eval/train_reader_gpu.sh BASE_DIR TRAIN.json.gz DEV.json OUT_DIR [MINUTES]
set -euo pipefail
base=$1 train=$2 dev=$3 out=$4 minutes=${5:-6.5}
mkdir -p "$out"
common=(-m qa.answering.train "$train" --base "$base" --dev "$dev" --device cuda --max-minutes "$minutes"
        --dev-every-minutes 2.5)
python3 "${common[@]}" --out "$out/a" --lr 1.5e-4 --epochs 2 --swap-rate 0.3 >"$out/a.log" 2>&1 &
python3 "${common[@]}" --out "$out/b" --lr 1.5e-4 --epochs 2 --swap-rate 0.6 --other-rate 0.2 >"$out/b.log" 2>&1 &
python3 "${common[@]}" --out "$out/c" --lr 1.5e-4 --epochs 2 >"$out/c.log" 2>&1 &
wait
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
runs = {}
for name in "abc":
    meta = out / name / "reader.json"
    if meta.exists():
        m = json.loads(meta.read_text())["metrics"]
        runs[name] = m["answerable_f1"] + m["no_answer_auc"]
        print(name, m)
best = max(runs, key=runs.get)
print("best", best)
(out / "best").write_text(best)
PY

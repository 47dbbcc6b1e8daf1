#!/usr/bin/env bash
# Every EmojiBench figure in docs/results.md, with the embedded default model: base-to-new on all
# six tasks x 3 folds x 7 methods, the LayerSkip ω sweep and the ClassSkip ρ sweep (on "food"),
# few-shot, cross-task and domain shift. About 30 minutes on 2 cores (after the pack exists:
# scripts/emojibench.sh builds it). Output: results/emojibench-full/<part>/{results.csv,
# summary.md, accuracy_vs_cost.png} and all_tables.md (every summary, in order).
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target emojibench
run="./build/examples/emojibench --jobs 2"   # two runs at once, one thread each (1.2x the throughput here)
out=${1:-results/emojibench-full}
$run --quiet --tasks all --methods all --out "$out/base-to-new"
$run --quiet --tasks all --methods coop --coop-lr 2e-4 --out "$out/coop-lr"
$run --quiet --tasks food --sweep omega --out "$out/omega-sweep"
# ρ matters when few classes are in a batch: the reference's same-class batches (16 shots of one class)
$run --quiet --tasks food --sweep rho --batch 16 --batching same-class --out "$out/rho-sweep"
$run --quiet --tasks food --methods ft,skip-tuning --batch 16 --batching same-class --out "$out/same-class"
$run --quiet --protocol few-shot --tasks food --shots 1,2,4,8,16 \
     --methods zero-shot,ft,skip-tuning,coop --out "$out/few-shot"
$run --quiet --protocol cross-task --tasks food --methods zero-shot,ft,skip-tuning,coop --out "$out/cross-task"
$run --quiet --protocol domain-shift --tasks food --methods zero-shot,ft,skip-tuning,coop --out "$out/domain-shift"
for part in base-to-new coop-lr omega-sweep rho-sweep same-class few-shot cross-task domain-shift; do
  printf '\n## %s\n' "$part"
  cat "$out/$part/summary.md"
done > "$out/all_tables.md.tmp" && mv "$out/all_tables.md.tmp" "$out/all_tables.md"
echo "tables: $out/all_tables.md"

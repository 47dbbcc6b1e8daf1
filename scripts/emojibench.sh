#!/usr/bin/env bash
# README command 1, the main job: EmojiBench base-to-new with the embedded default model
# (models/emojibench-tiny). On a fresh Debian 12 machine it installs what is needed
# (scripts/setup.sh; tools/emojibench/fetch_sources.sh: Unicode data, fonts, npm artwork),
# builds the pack once (cached in ${XDG_CACHE_HOME:-~/.cache}/skiptune/emojibench), builds the
# harness and runs it. Default run: task "food", 3 folds, zero-shot vs full fine-tuning vs Skip
# Tuning; any argument is passed to build/examples/emojibench, e.g.
#   bash scripts/emojibench.sh --methods all --tasks all          (docs/results.md)
# Output: a table on stdout, results/emojibench/{results.csv,summary.md,accuracy_vs_cost.png}.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
pack="${XDG_CACHE_HOME:-$HOME/.cache}/skiptune/emojibench/emojibench-v1.pack"
if [ ! -f "$pack" ]; then
  echo "emojibench: building the pack (once; about 2 minutes)" >&2
  bash tools/emojibench/fetch_sources.sh
  /usr/bin/python3 tools/emojibench/build_pack.py
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2 --target emojibench
./build/examples/emojibench "$@"

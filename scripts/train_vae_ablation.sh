#!/usr/bin/env bash
# The autoencoder ablation (docs/DESIGN.md, "The autoencoder"): every row of configs/ablation/ trains side by
# side, one thread each, under the shipped VAEs' stopping rule (capped at 3000 steps); then each row is scored
# by the measures of `seaice-ldm evaluate` on reconstructions (scripts/score_vae_ablation.py).
# An interrupted run resumes from its last checkpoint: run the script again.
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p runs/logs
pids=()
for config in configs/ablation/*.toml; do
  name=$(basename "$config" .toml)
  nice -n 10 seaice-ldm train vae --config "$config" > "runs/logs/ablation_$name.log" 2>&1 &
  pids+=($!)
  sleep 45  # staggered: each process peaks at about 5 GB while it synthesises the data
done
wait "${pids[@]}"

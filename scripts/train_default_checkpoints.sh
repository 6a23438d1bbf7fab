#!/usr/bin/env bash
# Train the shipped default models on the embedded synthetic data with the checked-in configs, then
# export them (EMA weights, float16) and the held-out reference states into checkpoints/.
# On a 2-core CPU the two lanes below run side by side, one thread each (about 75-80 minutes in all; an
# interrupted run resumes from its last checkpoints).
set -euo pipefail
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p runs/logs
lane_a() {
  seaice-ldm train vae --config configs/vae_censored.toml
  seaice-ldm train vae --config configs/vae_gaussian.toml
  seaice-ldm train diffusion --space latent --config configs/ldm_censored.toml
  seaice-ldm train diffusion --space latent --config configs/ldm_gaussian.toml
}
lane_b() {
  seaice-ldm train diffusion --space data --config configs/ddm.toml
}
lane_a > runs/logs/lane_a.log 2>&1 &
a=$!
lane_b > runs/logs/lane_b.log 2>&1 &
b=$!
wait $a $b
for name in vae_censored vae_gaussian ldm_censored ldm_gaussian ddm; do
  seaice-ldm export "runs/$name" "checkpoints/$name" --dtype float16
done
seaice-ldm data reference --checkpoint checkpoints/ldm_censored --out checkpoints/reference.nc --states 48
du -sh checkpoints

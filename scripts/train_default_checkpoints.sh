#!/usr/bin/env bash
# Train the shipped default models on the embedded synthetic data with the checked-in configs, then
# export them (EMA weights, float16) and the held-out reference states into checkpoints/.
# Every model trains until its validation loss stops improving (the [optim] stopping rule of its config).
# The Gaussian VAE trains in two stages: 15100 steps with every variable's squared error weighed alike, then
# (warm start, `init_from`) with the sic errors weighed 4x until the rule stops it. Both shipped VAEs keep its
# encoder as it is (`freeze_encoder`) and train its decoder on, each with its own likelihood (Gaussian,
# censored), until the rule stops them (docs/DESIGN.md, "The autoencoder"): they share their latents, which both
# latent models learn.
# Each diffusion model has two stages: trained with plain zero padding, then fine-tuned (warm start,
# `init_from`) with its grid inside a ring of land (`[unet] margin`); from scratch with a GPU, setting the
# margin in the stage-1 config and skipping stage 2 is the shorter road.
# On a 2-core CPU the lanes below run side by side, one thread each (four processes once the VAEs are
# done); the data-space model and the larger latent model are the long ones (hours). An interrupted run
# resumes from its last checkpoint: run the script again.
# With a GPU, run it as is (cuda is picked automatically) or a lane at a time under torchrun.
#
#   scripts/train_default_checkpoints.sh                 # everything
#   scripts/train_default_checkpoints.sh --latent-only   # the VAEs and latent models; keeps checkpoints/ddm, refiner
#   scripts/train_default_checkpoints.sh --no-frontier   # without the larger latent model of the frontier
#
# --latent-only is for a change of the autoencoder: the data-space models (the baseline and the latent path's
# refiner) do not depend on it, so the shipped ones' weights are kept (their cards are rewritten with the new
# report's figures). --no-frontier skips the larger latent model (hours more on a CPU) and leaves
# docs/frontier.json as it is: say so wherever its figures are quoted.
set -euo pipefail
cd "$(dirname "$0")/.."
latent_only=0
frontier=1
for arg in "$@"; do
  case "$arg" in
    --latent-only) latent_only=1 ;;
    --no-frontier) frontier=0 ;;
    *) echo "usage: $0 [--latent-only] [--no-frontier]" >&2; exit 2 ;;
  esac
done
if [ "$latent_only" = 1 ] && [ ! -f checkpoints/ddm/ema.safetensors ]; then
  echo "--latent-only keeps the shipped data-space model, but checkpoints/ddm/ema.safetensors is missing" >&2
  exit 2
fi
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
mkdir -p runs/logs
lane_censored() {
  seaice-ldm train vae --config configs/vae_censored.toml   # decoder only, on the Gaussian VAE's encoder
  # the frontier's larger latent model (about 4x the FLOPs per step) beside the shipped size, not after it:
  # run after it, it alone would take longer than everything else
  if [ "$frontier" = 1 ]; then
    seaice-ldm train diffusion --space latent --config configs/ldm_censored_m.toml > runs/logs/lane_frontier.log 2>&1 &
  fi
  seaice-ldm train diffusion --space latent --config configs/ldm_censored.toml
  seaice-ldm train diffusion --space latent --config configs/ldm_censored_margin.toml   # stage 2: ring of land
  wait
}
lane_gaussian() {
  seaice-ldm train vae --config configs/vae_gaussian_decoder.toml   # decoder only, on its own encoder
  seaice-ldm train diffusion --space latent --config configs/ldm_gaussian.toml
  seaice-ldm train diffusion --space latent --config configs/ldm_gaussian_margin.toml
}
lane_data() {
  seaice-ldm train diffusion --space data --config configs/ddm.toml
  seaice-ldm train diffusion --space data --config configs/ddm_margin.toml
  seaice-ldm train diffusion --config configs/refiner.toml   # the latent path's refiner (data space)
}
# all lanes at the same (lowered) priority: the data lane at full priority took two shares of the CPU
# and left the VAEs, whose latent models wait for them, one share each
if [ "$latent_only" = 0 ]; then
  nice -n 5 bash -c "$(declare -f lane_data); lane_data" > runs/logs/lane_data.log 2>&1 &
  d=$!
else
  d=""
fi
# the Gaussian VAE's two stages first (both shipped VAEs start from them), then a lane per decoder
nice -n 5 seaice-ldm train vae --config configs/vae_gaussian.toml > runs/logs/lane_gaussian.log 2>&1
nice -n 5 seaice-ldm train vae --config configs/vae_gaussian_sic.toml >> runs/logs/lane_gaussian.log 2>&1
nice -n 5 bash -c "frontier=$frontier; $(declare -f lane_censored); lane_censored" > runs/logs/lane_censored.log 2>&1 &
c=$!
nice -n 5 bash -c "$(declare -f lane_gaussian); lane_gaussian" >> runs/logs/lane_gaussian.log 2>&1 &
g=$!
wait $d $c $g
# every model ships as its last stage: the VAEs as their decoders on the shared encoder, the diffusion models with
# the grid inside a ring of land (docs/DESIGN.md)
seaice-ldm export runs/vae_gaussian_decoder checkpoints/vae_gaussian --dtype float16
seaice-ldm export runs/vae_censored checkpoints/vae_censored --dtype float16
shipped="ldm_censored ldm_gaussian"
[ "$latent_only" = 1 ] || shipped="$shipped ddm"
for name in $shipped; do
  seaice-ldm export "runs/${name}_margin" "checkpoints/$name" --dtype float16
done
[ "$latent_only" = 1 ] || seaice-ldm export runs/refiner checkpoints/refiner --dtype float16
if [ "$frontier" = 1 ]; then
  seaice-ldm export runs/ldm_censored_m runs/frontier/ldm_censored_m --dtype float16   # evaluated, not shipped
fi
seaice-ldm data reference --checkpoint checkpoints/ldm_censored --out checkpoints/reference.nc --states 48 --overwrite
du -sh checkpoints
# the figures every comparison rests on, from the shipped weights: the latent size frontier (ship the
# larger latent model instead if this picks it; the sizes are compared at stage 1), the evaluation report,
# the benchmark and the model cards
if [ "$frontier" = 1 ]; then
  python scripts/latent_frontier.py --vae runs/vae_censored \
    --candidate small=runs/ldm_censored --candidate large=runs/ldm_censored_m --json docs/frontier.json
fi
seaice-ldm evaluate --out docs/report --overwrite
seaice-ldm benchmark --json docs/benchmark.json --overwrite
python scripts/write_model_cards.py --overwrite

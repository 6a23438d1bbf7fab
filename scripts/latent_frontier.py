"""Pick the latent model size to ship: the cheapest within 5 % of the best fair CRPS (issue: right-sized LDM).

Usage (after ``scripts/train_default_checkpoints.sh`` has trained both sizes)::

    python scripts/latent_frontier.py --vae runs/vae_censored \
        --candidate small=runs/ldm_censored --candidate large=runs/ldm_censored_m --json docs/frontier.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seaice_ldm.data.io import atomic_file
from seaice_ldm.evaluation.frontier import latent_frontier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vae", required=True)
    parser.add_argument("--candidate", action="append", required=True, help="name=checkpoint folder")
    parser.add_argument("--members", type=int, default=32)
    parser.add_argument("--test-states", type=int, default=64)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    candidates = dict(item.split("=", 1) for item in args.candidate)
    result = latent_frontier(args.vae, candidates, members=args.members, test_states=args.test_states)
    for name, r in result["candidates"].items():
        print(f"{name:>8}: channels {r['channels']}, {r['parameters'] / 1e6:.2f} M parameters, "
              f"{r['gflop_per_state']:.1f} GFLOP/state, relative CRPS {r['relative_crps']:.3f} "
              f"(sic {r['crps']['sic']:.4f}, sit {r['crps']['sit']:.4f})")
    print(f"best: {result['best']}; ship: {result['chosen']} (cheapest within 5 % of the best)")
    if args.json:
        with atomic_file(args.json) as tmp:
            Path(tmp).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()

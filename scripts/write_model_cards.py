"""Write ``checkpoints/README.md``: one model card per shipped checkpoint (``seaice_ldm.workflow.cards``).

Reads each checkpoint's ``config.json``, the evaluation report (``docs/report/report.json``), the benchmark JSON
and the latent quality/cost frontier (``docs/frontier.json``), so the cards never disagree with what was trained
and measured; draws each model's loss curve into ``docs/model_cards/``. A user's folder gets its cards from
``seaice-ldm train all`` (or ``seaice-ldm cards``). Usage::

    python scripts/write_model_cards.py [--checkpoints checkpoints] [--report docs/report/report.json]
                                        [--benchmark docs/benchmark.json] [--frontier docs/frontier.json]
                                        [--overwrite]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seaice_ldm.workflow.cards import CardSettings, write_model_cards

PREFACE = [
    "> Trained on the package's **synthetic** Arctic data set, not on observations.",
    "",
    "Each folder holds `ema.safetensors` (weights), `grid.safetensors` (the ocean mask) and "
    "`config.json` (config, normalisation statistics, grid, variables and bounds, training data, code "
    "version, file checksums). Nothing is pickled. `reference.nc` holds held-out test-year states for the "
    "dashboard's reference panel. Retrain all of it with `scripts/train_default_checkpoints.sh`.",
]


def _json(path: str) -> dict | None:
    return json.loads(Path(path).read_text()) if Path(path).exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--checkpoints", default="checkpoints", help="the shipped checkpoints folder")
    parser.add_argument("--report", default="docs/report/report.json", help="evaluation report (JSON)")
    parser.add_argument("--benchmark", default="docs/benchmark.json", help="benchmark figures (JSON)")
    parser.add_argument("--frontier", default="docs/frontier.json", help="latent size frontier (JSON)")
    parser.add_argument("--figures", default="docs/model_cards", help="folder of the loss curves")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace a README or loss curve seaice-ldm did not write, or one changed since")
    args = parser.parse_args()
    settings = CardSettings(title="Shipped checkpoints", preface=PREFACE, figures=Path(args.figures),
                            report=_json(args.report), benchmark=_json(args.benchmark),
                            frontier=_json(args.frontier), frontier_section=True)
    print(f"wrote {write_model_cards(args.checkpoints, settings, overwrite=args.overwrite)}")


if __name__ == "__main__":
    main()

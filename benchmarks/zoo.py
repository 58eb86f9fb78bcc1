"""The model zoo's runs (issues #13, #15): train one, then ship it into ``results/``.

Recipes: ``sr_keras.recipes.ZOO`` (with ``ZOO_COMMON`` and ``COMMON``): bfloat16, BSDS500 from
``../shared/data``, validation on the sample photos (never Set5/Set14). Runs go under
``--runs`` (keep it outside the checkout: they take hours; rerun the same command to resume)::

    python benchmarks/zoo.py train edsr_baseline_gr_x4 --runs ~/runs
    python benchmarks/zoo.py ship edsr_baseline_gr_x4 --runs ~/runs

``ship`` checks that the finished run's configuration is the recipe's, then writes
``results/weights/<name>.keras`` and ``results/logs/<name>.{csv,json}``. A run whose recipe has
``init_from`` starts from ``<runs>/<init_from>/best.keras`` (the x4 run continues the pilot's
run, made by ``benchmarks/pilot.py``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
#: Fields that name places on one machine; ``ship`` compares every other field to the recipe.
PLACES = ("data", "out", "init_from", "cache")


def config(name: str, runs: Path):
    from sr_keras.recipes import COMMON, ZOO, ZOO_COMMON
    from sr_keras.train import TrainConfig

    values = {**COMMON, **ZOO_COMMON, **ZOO[name]}
    if "init_from" in values:
        values["init_from"] = str(runs / values["init_from"] / "best.keras")
    return TrainConfig(
        data=str(ROOT.parent / "shared" / "data" / "BSDS500"),
        val_data="sample",
        out=str(runs / "zoo" / name),
        **values,
    )


def run_train(args) -> None:
    from sr_keras.train import train

    train(config(args.name, args.runs), verbose=2)


def run_ship(args) -> None:
    from sr_keras.train import publish

    wanted = dataclasses.asdict(config(args.name, args.runs))
    run_dir = Path(wanted["out"])
    found = json.loads((run_dir / "config.json").read_text())
    differ = sorted(k for k in wanted if k not in PLACES and found.get(k) != wanted[k])
    if differ:
        raise SystemExit(f"{run_dir} was not trained with the recipe ({', '.join(differ)} differ)")
    print(publish(run_dir, ROOT / "results", args.name, args.weights))


def main() -> None:
    from sr_keras.recipes import ZOO

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["train", "ship"])
    parser.add_argument("name", choices=sorted(ZOO))
    parser.add_argument("--runs", type=Path, default=Path.home() / "runs")
    parser.add_argument("--weights", choices=["best", "last"], default="best")
    args = parser.parse_args()
    {"train": run_train, "ship": run_ship}[args.command](args)


if __name__ == "__main__":
    main()

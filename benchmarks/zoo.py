"""The model zoo's runs (issues #13, #15): train one, then ship it into ``results/``.

Recipes: ``sr_keras.recipes.ZOO`` (with ``ZOO_COMMON`` and ``COMMON``): bfloat16, BSDS500 from
``../shared/data``, validation on the sample photos (never Set5/Set14). Runs go under
``--runs`` (keep it outside the checkout: they take hours; rerun the same command to resume)::

    python benchmarks/zoo.py train edsr_baseline_gr_x4 --runs ~/runs
    python benchmarks/zoo.py ship edsr_baseline_gr_x4 --runs ~/runs
    python benchmarks/zoo.py report   # every shipped model -> results/shipped.{csv,md}

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


def run_report(args) -> None:
    """Every shipped model at every scale on Set5 and Set14 -> ``results/shipped.{csv,md}``."""
    import pandas as pd

    from sr_keras.evaluate import evaluate, megapixel_seconds, write_table
    from sr_keras.inference import predictor, shipped_models
    from sr_keras.utils import machine_description, shared_data_dir

    rows = []
    for scale in (2, 3, 4):
        for name in ["bicubic", *shipped_models(scale)]:
            predict, parameters = predictor(name, scale, precision="float32")
            fast, _ = predictor(name, scale, precision="auto")
            seconds = round(megapixel_seconds(fast, scale), 3)
            for dataset in ("Set5", "Set14"):
                table = evaluate(predict, shared_data_dir() / dataset, scale, progress=False)
                mean = table.iloc[-1]
                rows.append({"Scale": scale, "Dataset": dataset, "Name": name,
                             "Parameters": parameters, "Y-PSNR": round(mean["psnr_y"], 2),
                             "Y-SSIM": round(mean["ssim_y"], 4), "1 MP (s)": seconds})  # fmt: skip
            print(rows[-2:], flush=True)
    note = (
        "Every shipped model (`results/weights`) at its scale: Set5 and Set14 by the standard "
        "protocol (float32), and seconds per output megapixel as `upscale` runs it (precision "
        f"auto, a 1000x1000 output, best of 3). Machine: {machine_description()}. Command: "
        "`python benchmarks/zoo.py report`. `upscale` and `evaluate` default to the best Set5 "
        "row under 2 s per megapixel at each scale (`upscale`: among the `_realistic` weights)."
    )
    results = ROOT / "results"
    write_table(pd.DataFrame(rows), results / "shipped.csv", results / "shipped.md", note)


def main() -> None:
    from sr_keras.recipes import ZOO

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["train", "ship", "report"])
    parser.add_argument("name", nargs="?", choices=sorted(ZOO))
    parser.add_argument("--runs", type=Path, default=Path.home() / "runs")
    parser.add_argument("--weights", choices=["best", "last"], default="best")
    args = parser.parse_args()
    if args.command != "report" and not args.name:
        parser.error(f"{args.command} needs a run name")
    {"train": run_train, "ship": run_ship, "report": run_report}[args.command](args)


if __name__ == "__main__":
    main()

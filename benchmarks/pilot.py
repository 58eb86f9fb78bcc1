"""The flagship pilot (issue #16): EDSR-baseline against RFDN at one declared CPU budget.

Both x4 with the bicubic skip, bfloat16, trained on ``../shared/data/BSDS500`` (validated on
the sample photos, never on Set5/Set14) with the recipes in ``sr_keras.recipes.PILOT``: same
data, batch, patch, loss and schedule; steps chosen so that each run takes 90 core-minutes.
The two run at once, each pinned to one core, so both see the same machine::

    taskset -c 0 python benchmarks/pilot.py train --model edsr_baseline --out ~/runs/pilot &
    taskset -c 1 python benchmarks/pilot.py train --model rfdn --out ~/runs/pilot &

A killed run resumes with the same command. Then ``python benchmarks/pilot.py report --out
~/runs/pilot`` evaluates both on Set5 and Set14 and writes ``results/pilot.md`` and
``results/figures/pilot_curves.png``; ``ship`` publishes both runs' weights
(``results/weights``, ``results/logs``): EDSR's as ``edsr_baseline_gr_x4`` until the zoo's
longer run replaces it, RFDN's final ones as the labelled row ``rfdn_gr_x4``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
MODELS = ("edsr_baseline", "rfdn")


def config(model: str, out: Path):
    from sr_keras.recipes import COMMON, PILOT
    from sr_keras.train import TrainConfig

    base = TrainConfig(
        model=model,
        scale=4,
        data=str(ROOT.parent / "shared" / "data" / "BSDS500"),
        val_data="sample",
        out=str(out / f"{model}_gr_x4"),
        global_residual=True,
        precision="bfloat16",
    )
    return dataclasses.replace(base, **{**COMMON, **PILOT[model]})


def run_train(args) -> None:
    from sr_keras.train import train

    train(config(args.model, args.out), verbose=2)


def run_report(args) -> None:
    import pandas as pd

    from sr_keras.evaluate import evaluate
    from sr_keras.figures import learning_curves, save_figure
    from sr_keras.inference import predictor
    from sr_keras.utils import atomic_write_text, machine_description, shared_data_dir

    rows, logs = [], {}
    for model in MODELS:
        run = Path(config(model, args.out).out)
        log = pd.read_csv(run / "log.csv")
        logs[f"{model}_gr"] = log
        row = {
            "Model": f"{model}_gr",
            "Steps": int(len(log) * config(model, args.out).steps_per_epoch),
            "Train wall (min)": round(log["seconds"].sum() / 60, 1),
            "Train CPU (min)": round(log["cpu_seconds"].sum() / 60, 1),
            "Final val Y-PSNR": round(log["val_psnr"].iloc[-1], 2),
        }
        for dataset in ("Set5", "Set14"):
            predict, row["Parameters"] = predictor(
                f"{model}_gr", 4, run / "last.keras", precision="float32"
            )
            table = evaluate(predict, shared_data_dir() / dataset, 4, progress=False)
            row[f"{dataset} Y-PSNR"] = round(table["psnr_y"].iloc[-1], 2)
        rows.append(row)
    table = pd.DataFrame(rows).to_markdown(index=False)
    recipe = config("rfdn", args.out)
    header = (
        "# Flagship pilot: EDSR-baseline against RFDN at one CPU budget\n\n"
        f"x4, both with the bicubic skip, bfloat16, trained on {recipe.data} (validated on the "
        f"sample photos), L1, Adam {recipe.learning_rate:g} cosine, batch {recipe.batch_size}, "
        f"HR patch {recipe.patch_size}, seed {recipe.seed}; steps from each model's bfloat16 "
        "step time so that each gets 90 core-minutes; the two ran at once, each pinned to one "
        f"core. Machine: {machine_description()}. Set5/Set14: standard protocol, the weights "
        "at the end of the budget (last.keras), float32, evaluated with the LeakyReLU fix below. "
        "Command: `python benchmarks/pilot.py` (see its "
        "docstring). Curves: `figures/pilot_curves.png` (against CPU minutes).\n\n"
    )
    note = (
        "\n\nRFDN's validation column and curve were logged before the LeakyReLU fix "
        "(commit 2715f69): in a traced inference graph TensorFlow's oneDNN rewrite fused "
        "Conv2D+BiasAdd+Add+LeakyReLU and dropped the 0.05 slope, so RFDN's validation ran "
        "another function than the one it trained (training graphs keep the pre-activation "
        "for the gradient and are not fused). Its Set5/Set14 columns are from its trained "
        "weights, rebuilt with the fixed layer.\n"
    )
    atomic_write_text(ROOT / "results" / "pilot.md", header + table + note)
    figure = learning_curves(logs, "Pilot x4, bfloat16: equal CPU budget", x="cpu minutes")
    save_figure(figure, ROOT / "results" / "figures" / "pilot_curves.png")
    print(table)


def run_ship(args) -> None:
    from sr_keras.train import publish

    # RFDN's best.keras was picked by the validation the LeakyReLU fix corrected: ship its last.
    for model, weights in (("edsr_baseline", "best"), ("rfdn", "last")):
        run = Path(config(model, args.out).out)
        print(publish(run, ROOT / "results", f"{model}_gr_x4", weights))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train")
    train.add_argument("--model", choices=MODELS, required=True)
    train.add_argument("--out", type=Path, required=True)
    for name in ("report", "ship"):
        commands.add_parser(name).add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    {"train": run_train, "report": run_report, "ship": run_ship}[args.command](args)


if __name__ == "__main__":
    main()

"""Robustness (issue #15): every shipped model under every named degradation, against bicubic.

For each model shipped at the scale (``results/weights``) and each degradation of
``sr_keras.degradations.EVALUATION_DEGRADATIONS``, the mean Y-PSNR over the images of Set5 and
Set14 (``../shared/data``; photos no model trained or validated on), standard protocol, with
the LR made that way; the table gives each model's gain over bicubic upscaling of the same LR.
Writes ``results/robustness_x<scale>.{csv,md}``::

    python benchmarks/robustness.py --scale 4
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ("Set5", "Set14")


def mean_psnr(predict, scale: int, degradation: str, sources=None, split="valid") -> float:
    """A predictor's mean Y-PSNR over the images of ``sources`` (default Set5 and Set14),
    the LR made by ``degradation``."""
    import pandas as pd

    from sr_keras.evaluate import evaluate
    from sr_keras.utils import shared_data_dir

    sources = sources or [shared_data_dir() / d for d in DATASETS]
    tables = [
        evaluate(predict, s, scale, split, progress=False, degradation=degradation) for s in sources
    ]
    images = pd.concat([table.iloc[:-1] for table in tables])  # the per-image rows
    return float(images["psnr_y"].mean())


def main() -> None:
    import pandas as pd

    from sr_keras.degradations import EVALUATION_DEGRADATIONS
    from sr_keras.inference import predictor, shipped_models
    from sr_keras.utils import atomic_write_text, machine_description

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--precision", default="auto")
    args = parser.parse_args()
    names = ["bicubic", *shipped_models(args.scale)]
    runs = {n: predictor(n, args.scale, precision=args.precision)[0] for n in names}
    psnr = pd.DataFrame(
        {d: [mean_psnr(runs[n], args.scale, d) for n in names] for d in EVALUATION_DEGRADATIONS},
        index=names,
    )
    print(psnr.round(2).to_string())
    gain = (psnr - psnr.loc["bicubic"]).drop(index="bicubic").round(2)
    table = pd.concat([psnr.loc[["bicubic"]].round(2), gain]).rename_axis("model").reset_index()
    out = ROOT / "results" / f"robustness_x{args.scale}"
    atomic_write_text(out.with_suffix(".csv"), table.to_csv(index=False))
    header = (
        f"# Robustness x{args.scale}: gain over bicubic (dB) by how the LR was made\n\n"
        f"Mean Y-PSNR over the {' and '.join(DATASETS)} images (standard protocol), LR made "
        "by each degradation of `sr_keras.degradations.degrade_named` (`bicubic`: the study's "
        "protocol; `cv2_*`: OpenCV `resize`, no antialiasing but `area`; `jpeg75`: the "
        "protocol's LR as JPEG quality 75; `noise5`: Gaussian noise, sigma 5). First row: "
        "bicubic's Y-PSNR; other rows: each shipped model's gain over it on the same LR. "
        f"Precision {args.precision}. Machine: {machine_description()}. "
        f"Command: `python benchmarks/robustness.py --scale {args.scale}`.\n\n"
    )
    atomic_write_text(out.with_suffix(".md"), header + table.to_markdown(index=False) + "\n")


if __name__ == "__main__":
    main()

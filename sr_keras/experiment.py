"""The study's model runs, as the notebooks and ``sr-keras study`` call them.

Two modes, one code path:

* ``quick`` (default): a few training steps on the embedded sample, evaluated on the sample's
  validation images; everything goes under ``runs/quick/`` (not committed). CI runs this.
* ``full``: the real study: each model's recipe (``sr_keras.recipes``) on the training data
  (``../shared/data/BSDS500`` here, ``SR_KERAS_DATA`` or ``--data`` elsewhere: a DIV2K root or
  any folder), validated on DIV2K's valid split or else the sample's validation photos (never on
  the benchmark sets), evaluated on Set5 and Set14; the weights, logs, tables and figures go
  into ``results/``.

Environment variables (read by notebooks): ``SR_KERAS_MODE`` (``quick``/``full``),
``SR_KERAS_DATA`` (training source for the full mode), ``SR_KERAS_RUNS`` (where runs go).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from sr_keras import inference
from sr_keras.data import find_pairs, is_div2k_root, load_pair
from sr_keras.evaluate import baseline_predictor, comparison_table, evaluate, measure, quantize
from sr_keras.figures import comparison_figure, learning_curves, save_figure, tradeoff_plot
from sr_keras.images import SRKerasError
from sr_keras.precision import resolve as resolve_precision
from sr_keras.recipes import RECIPES, recipe
from sr_keras.study import dataset_name
from sr_keras.train import save_model, train
from sr_keras.utils import (
    atomic_write_bytes,
    atomic_write_text,
    machine_description,
    project_root,
    shared_data_dir,
)

MODES = ("quick", "full")

#: The deck's results table (DIV2K valid; its protocol is not stated).
DECK_RESULTS = pd.DataFrame(
    [
        ("srcnn", 20_483, 581.2148, 21.2076, 0.155355),
        ("srresnet_lite", 39_875, 397.9567, 23.1751, 0.193009),
        ("srresnet", 449_731, 396.3909, 23.3171, 0.352079),
        ("sr_autoencoder", 1_848_067, 382.0012, 23.4283, 2.352550),
    ],
    columns=["Name", "Parameters", "Loss (MSE)", "PSNR", "Time (s)"],
)


@dataclasses.dataclass
class StudySettings:
    """Where a study run reads and writes.

    Attributes:
        mode: ``quick`` or ``full``.
        scale: The scale.
        data: Training source.
        val_data: Validation source (``None``: the valid split of ``data``).
        benchmarks: Evaluation sources.
        runs_dir: Where run directories go.
        results_dir: Where weights, logs, tables and figures go.
        precision: Compute precision of training and evaluation (``sr_keras.precision``).
    """

    mode: str
    scale: int
    data: str
    val_data: str | None
    benchmarks: list[str]
    runs_dir: Path
    results_dir: Path
    precision: str = "auto"

    @property
    def quick(self) -> bool:
        return self.mode == "quick"

    @property
    def figures_dir(self) -> Path:
        return self.results_dir / "figures"


def study_settings(
    mode: str | None = None, data: str | None = None, scale: int = 4, precision: str = "auto"
):
    """The settings of a quick or full study run (see the module docstring).

    Args:
        mode: ``quick`` or ``full``; default ``SR_KERAS_MODE`` or ``quick``.
        data: Training source for the full mode; default ``SR_KERAS_DATA`` or
            ``../shared/data/BSDS500``.
        scale: The scale.
        precision: ``auto``, ``float32``, ``bfloat16`` or ``float16``.

    Returns:
        The ``StudySettings``.

    Raises:
        ValueError: If ``mode`` is unknown.
        SRKerasError: If the full mode finds no training data.
    """
    mode = mode or os.environ.get("SR_KERAS_MODE", "quick")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    shared = shared_data_dir()
    runs_dir = Path(os.environ.get("SR_KERAS_RUNS", project_root() / "runs")) / mode
    if mode == "quick":
        return StudySettings(
            mode,
            scale,
            data or "sample",
            "sample",
            ["sample"],
            runs_dir,
            runs_dir / "results",
            precision,
        )
    data = data or os.environ.get("SR_KERAS_DATA")
    if not data:
        if not (shared / "BSDS500").is_dir():
            raise SRKerasError(
                "the full study needs training data: pass --data (a DIV2K root or a folder of "
                "HR images) or set SR_KERAS_DATA"
            )
        data = str(shared / "BSDS500")
    # Validation picks the best checkpoint, so it never uses the benchmark sets: DIV2K's valid
    # split for DIV2K, else the sample's validation photos (astronaut, coffee).
    val_data = None if is_div2k_root(data) else "sample"
    if (shared / "Set5").is_dir():
        benchmarks = [str(shared / "Set5"), str(shared / "Set14")]
    else:
        benchmarks = [data] if is_div2k_root(data) else ["sample"]
    return StudySettings(
        mode, scale, data, val_data, benchmarks, runs_dir, project_root() / "results", precision
    )


def run_name(model: str, scale: int, global_residual: bool = False) -> str:
    """``srcnn_x4``, or ``srcnn_gr_x4`` for the global-residual variant."""
    return f"{model}{'_gr' if global_residual else ''}_x{scale}"


def train_model(
    settings: StudySettings, model: str, global_residual: bool = False, verbose="auto"
) -> tuple[keras.Model, pd.DataFrame]:
    """Trains one model with its recipe; a full run also publishes weights and logs.

    A full run writes ``results/weights/<run>.keras`` and ``results/logs/<run>.csv`` / ``.json``
    (configuration and summary: data, steps, wall time, machine). Re-running resumes an
    interrupted run and reloads a finished one.

    Returns:
        ``(model, log)``.
    """
    name = run_name(model, settings.scale, global_residual)
    config = recipe(
        model,
        settings.quick,
        settings.data,
        settings.val_data,
        str(settings.runs_dir / name),
        settings.scale,
        global_residual,
    )
    config = dataclasses.replace(config, precision=settings.precision)
    trained, log = train(config, verbose=verbose)
    if not settings.quick:
        run_dir = Path(config.out)
        weights = settings.results_dir / "weights" / f"{name}.keras"
        # The published model has no optimizer state (a third of the size for Adam).
        save_model(keras.models.load_model(run_dir / "best.keras", compile=False), weights)
        logs = settings.results_dir / "logs"
        atomic_write_bytes(logs / f"{name}.csv", (run_dir / "log.csv").read_bytes())
        record = {
            "config": json.loads((run_dir / "config.json").read_text()),
            "summary": json.loads((run_dir / "summary.json").read_text()),
        }
        atomic_write_text(logs / f"{name}.json", json.dumps(record, indent=2) + "\n")
    return trained, log


def trained_model(settings: StudySettings, model: str, global_residual: bool = False):
    """The study's trained model, or ``None`` if it has not been trained in this mode."""
    name = run_name(model, settings.scale, global_residual)
    if settings.quick:
        path = settings.runs_dir / name / "best.keras"
    else:
        path = settings.results_dir / "weights" / f"{name}.keras"
    if not path.is_file():
        return None
    name = f"{model}_gr" if global_residual else model
    return inference.load_model(name, settings.scale, path, settings.precision)


def _model_predictor(model: keras.Model, ensemble: bool = False):
    function = inference.model_function(model)
    if ensemble:
        function = inference.self_ensemble(function)
    return lambda lr: function(lr[None].astype(np.float32) / 255.0)[0] * 255.0


#: Column of :func:`evaluate_models` with the self-ensemble's gain.
ENSEMBLE_GAIN = "x8 gain (dB)"


def evaluate_models(
    settings: StudySettings,
    trained: dict[str, keras.Model],
    include_bicubic: bool = True,
    self_ensemble: bool = False,
) -> pd.DataFrame:
    """The deck-style comparison table of trained models (and bicubic) on each benchmark.

    Args:
        settings: The study settings (its ``benchmarks`` are evaluated).
        trained: Row name -> model.
        include_bicubic: Add the bicubic baseline row.
        self_ensemble: Also evaluate every model with the 8-way self-ensemble
            (:func:`sr_keras.inference.self_ensemble`, 8x the compute) and add its Y-PSNR gain.

    Returns:
        Columns ``Dataset``, those of :func:`sr_keras.evaluate.comparison_table`,
        ``1 MP (s)``: seconds to upscale to a 1000x1000 output (:func:`megapixel_seconds`),
        ``Precision`` (that of the models, timed and evaluated in it), and
        with ``self_ensemble`` the column ``ENSEMBLE_GAIN``: ensembled minus plain Y-PSNR
        (empty for bicubic).
    """
    split = "valid"
    predictors = {name: _model_predictor(model) for name, model in trained.items()}
    ensembled = (
        {name: _model_predictor(model, ensemble=True) for name, model in trained.items()}
        if self_ensemble
        else {}
    )
    frames = []
    for source in settings.benchmarks:
        tables, parameters = {}, {}
        if include_bicubic:
            tables["bicubic"] = evaluate(
                baseline_predictor("bicubic", settings.scale),
                source,
                settings.scale,
                split,
                progress=False,
            )
            parameters["bicubic"] = 0
        for name, model in trained.items():
            tables[name] = evaluate(
                predictors[name], source, settings.scale, split, description=name
            )
            parameters[name] = model.count_params()
        table = comparison_table(tables, parameters)
        table.insert(0, "Dataset", dataset_name(source))
        if self_ensemble:
            gains = {
                name: evaluate(
                    ensembled[name], source, settings.scale, split, description=f"{name} x8"
                )["psnr_y"].iloc[-1]
                - tables[name]["psnr_y"].iloc[-1]
                for name in trained
            }
            table[ENSEMBLE_GAIN] = [
                round(float(gains[name]), 3) if name in gains else np.nan for name in table["Name"]
            ]
        frames.append(table)
    table = pd.concat(frames, ignore_index=True)
    megapixel = {"bicubic": baseline_predictor("bicubic", settings.scale), **predictors}
    # The quick mode times a 200x200 output once and scales it to a megapixel.
    side, repeats = (200, 1) if settings.quick else (1000, 3)
    timed = {
        name: megapixel_seconds(megapixel[name], settings.scale, side, repeats)
        for name in megapixel
    }
    table["1 MP (s)"] = [round(timed[name], 3) for name in table["Name"]]
    resolved = resolve_precision(settings.precision)
    table["Precision"] = [resolved if name in trained else "" for name in table["Name"]]
    return table


def megapixel_seconds(predict, scale: int, output_side: int = 1000, repeats: int = 3) -> float:
    """Seconds per megapixel of output, timed on one square image (best of ``repeats`` calls
    after a warm-up call).

    Args:
        predict: ``uint8 LR -> float HR`` (a model's or a baseline's predictor).
        scale: The scale.
        output_side: Side of the output in pixels (1000: exactly one megapixel).
        repeats: Timed calls.

    Returns:
        Seconds for one megapixel of output.
    """
    side = round(output_side / scale)
    lr = np.random.default_rng(0).integers(0, 256, (side, side, 3), dtype=np.uint8)
    predict(lr)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        predict(lr)
        best = min(best, time.perf_counter() - start)
    return best * 1e6 / (side * scale) ** 2


def outputs_figure(
    settings: StudySettings,
    trained: dict[str, keras.Model],
    image_index: int = 0,
    source: str | None = None,
    title: str | None = None,
):
    """Bicubic and each model's output on one benchmark image, with the same zoomed crop."""
    source = source or settings.benchmarks[0]
    pairs = find_pairs(source, "valid", settings.scale)
    pair = pairs[image_index % len(pairs)]  # sets smaller than the index wrap around
    lr, hr = load_pair(pair, settings.scale)
    outputs, captions = {}, {}
    predictors = {"bicubic": baseline_predictor("bicubic", settings.scale)}
    predictors.update({name: _model_predictor(model) for name, model in trained.items()})
    for name, predict in predictors.items():
        sr = quantize(predict(lr))
        values = measure(sr, hr, settings.scale)
        outputs[name] = sr
        captions[name] = f"{values['psnr_y']:.2f} dB / {values['ssim_y']:.4f}"
    return comparison_figure(
        hr,
        lr,
        outputs,
        settings.scale,
        captions=captions,
        title=title or f"{dataset_name(source)} / {pair.name}, x{settings.scale}: Y-PSNR / Y-SSIM",
    )


def learning_curves_figure(log: pd.DataFrame, name: str):
    """The learning curves of one run, titled with its name."""
    return learning_curves(log, title=f"{name}: training loss and validation Y-PSNR")


def save(settings: StudySettings, figure, filename: str) -> Path:
    """Saves a figure into the mode's figures folder and returns the path."""
    path = settings.figures_dir / filename
    save_figure(figure, path)
    return path


def write_table(settings: StudySettings, table: pd.DataFrame, stem: str, note: str) -> Path:
    """Writes a table as ``<stem>.csv`` and ``<stem>.md`` (with a note on data and machine)."""
    from sr_keras.evaluate import write_csv

    write_csv(table, settings.results_dir / f"{stem}.csv")
    markdown = (
        f"{note}\n\nMode: {settings.mode}. Machine: {machine_description()}.\n\n"
        + table.to_markdown(index=False)
        + "\n"
    )
    return atomic_write_text(settings.results_dir / f"{stem}.md", markdown)


def comparison_with_deck(table: pd.DataFrame) -> pd.DataFrame:
    """Our comparison rows side by side with the deck's own numbers (its PSNR and time)."""
    deck = DECK_RESULTS.rename(
        columns={"PSNR": "deck PSNR", "Time (s)": "deck Time (s)", "Loss (MSE)": "deck MSE"}
    ).drop(columns="Parameters")
    base = table.copy()
    base["model"] = base["Name"].str.replace("_gr", "", regex=False)
    merged = base.merge(deck, left_on="model", right_on="Name", how="left", suffixes=("", "_d"))
    return merged.drop(columns=["model", "Name_d"])


def training_runs(settings: StudySettings) -> pd.DataFrame:
    """One row per published full run (``results/logs/*.json``): recipe, data, steps, time.

    Args:
        settings: The study settings (its ``results_dir``).

    Returns:
        Columns ``Run``, ``Data``, ``Steps``, ``Batch``, ``HR patch``, ``Loss``, ``LR``,
        ``Schedule``, ``Best val Y-PSNR`` (on the validation photos), ``Wall time (min)``,
        ``Machine``; empty if nothing was published.
    """
    rows = []
    for path in sorted((settings.results_dir / "logs").glob("*.json")):
        record = json.loads(path.read_text())
        config, summary = record["config"], record["summary"]
        rows.append(
            {
                "Run": path.stem,
                "Data": Path(config["data"]).name,
                "Steps": summary["steps"],
                "Batch": config["batch_size"],
                "HR patch": config["patch_size"],
                "Loss": config["loss"],
                "LR": config["learning_rate"],
                "Schedule": config["schedule"],
                "Best val Y-PSNR": round(summary["best_val_psnr_y"], 2),
                "Wall time (min)": round(summary["train_seconds"] / 60, 1),
                "Machine": summary["machine"],
            }
        )
    return pd.DataFrame(rows)


def all_trained(settings: StudySettings) -> dict[str, keras.Model]:
    """Every trained model of this mode (deck version and global-residual variant)."""
    found = {}
    for model in RECIPES:
        for residual in (False, True):
            trained = trained_model(settings, model, residual)
            if trained is not None:
                found[run_name(model, settings.scale, residual).rsplit("_x", 1)[0]] = trained
    return found


def tradeoff_figures(settings: StudySettings, table: pd.DataFrame):
    """PSNR against parameters and against time per image, on the first benchmark."""
    first = table[table["Dataset"] == table["Dataset"].iloc[0]]
    return (
        tradeoff_plot(first, "Parameters", title=f"{first['Dataset'].iloc[0]} x{settings.scale}"),
        tradeoff_plot(first, "Time (s)", title=f"{first['Dataset'].iloc[0]} x{settings.scale}"),
    )

"""The study end to end: interpolation baselines, the models, their comparison and figures.

Three modes of one code path (the notebooks' ``MODE``; ``SR_KERAS_RUNS`` moves ``runs/``):
``shipped`` (``sr-keras study``) evaluates the baselines and every shipped model on the sample
photos and upscales one (``runs/study``); ``quick`` (``--quick-train``, the notebooks' default, CI)
trains each model a few steps on the sample (``runs/quick``: numbers that only show the code runs);
``full`` (``--full``) trains each recipe, validates on DIV2K's valid split or the sample's photos
(never the benchmarks), evaluates on Set5 and Set14, and writes into ``results/``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import keras
import numpy as np
import pandas as pd

from sr_keras import inference
from sr_keras.config import TrainConfig
from sr_keras.data import find_pairs, is_div2k_root, sample_dir
from sr_keras.evaluate import (
    comparison_table,
    evaluate,
    format_table,
    load_degraded,
    measure,
    megapixel_seconds,
    quantize,
    write_table,
)
from sr_keras.figures import comparison_figure, learning_curves, save_figure, tradeoff_plot
from sr_keras.images import SRKerasError
from sr_keras.inference import BASELINES
from sr_keras.precision import resolve as resolve_precision
from sr_keras.recipes import QUICK, RECIPES, recipe
from sr_keras.train import publish, train
from sr_keras.utils import machine_description, project_root, shared_data_dir

MODES = ("shipped", "quick", "full")

#: Column of :func:`evaluate_models` with the self-ensemble's gain.
ENSEMBLE_GAIN = "x8 gain (dB)"

# fmt: off
#: The deck's results table (DIV2K valid; its protocol is not stated).
DECK_RESULTS = pd.DataFrame(
    [("srcnn", 20_483, 581.2148, 21.2076, 0.155355),
     ("srresnet_lite", 39_875, 397.9567, 23.1751, 0.193009),
     ("srresnet", 449_731, 396.3909, 23.3171, 0.352079),
     ("sr_autoencoder", 1_848_067, 382.0012, 23.4283, 2.352550)],
    columns=["Name", "Parameters", "Loss (MSE)", "PSNR", "Time (s)"],
)
#: The deck's worked example (Hinh 4 and 5): the 2x2 input and its published 4x4 upscalings.
DECK_INPUT = ((10, 20), (30, 40))
DECK_TABLES = {
    "bilinear": ((10, 12.5, 17.5, 20), (15, 17.5, 22.5, 25), (25, 27.5, 32.5, 35),
                 (30, 32.5, 37.5, 40)),
    "bicubic": ((6.84, 10.16, 15.63, 18.95), (13.48, 16.80, 22.27, 25.59),
                (24.41, 27.73, 33.20, 36.52), (31.05, 34.38, 39.84, 43.16)),
}
# fmt: on

#: The sample photo ``sr-keras study`` upscales with the default model (not an evaluation one).
UPSCALED_PHOTO = "chelsea.png"


@dataclasses.dataclass
class StudySettings:
    """Where a study run reads and writes: training ``data`` (``None``: none found), ``val_data``
    (``None``: ``data``'s valid split), ``results_dir`` (tables, figures, a full run's weights and
    logs)."""

    mode: str
    scale: int
    data: str | None
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

    @property
    def smoke(self) -> str:
        """The smoke run's label ("" in the other modes), on its tables and figures."""
        steps = QUICK["epochs"] * QUICK["steps_per_epoch"]
        return f"SMOKE RUN (models trained {steps} steps)" if self.quick else ""


def study_settings(mode=None, data=None, scale: int = 4, precision=None, out=None):
    """The settings of a mode (default ``SR_KERAS_MODE`` or ``quick``): ``data``, the full mode's
    training data (default ``SR_KERAS_DATA`` or ``../shared/data/BSDS500``); ``out``, the results
    folder (default ``runs/study``, ``runs/quick/results`` or ``results/``); ``precision``, by
    default float32 in the shipped mode (the published numbers), else ``auto``."""
    mode = mode or os.environ.get("SR_KERAS_MODE", "quick")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    runs = Path(os.environ.get("SR_KERAS_RUNS", project_root() / "runs"))
    precision = precision or ("float32" if mode == "shipped" else "auto")
    settings = StudySettings(
        mode, scale, "sample", "sample", ["sample"], runs / mode, runs / "study", precision
    )
    if mode == "quick":
        settings.results_dir = runs / mode / "results"
    elif mode == "full":
        shared = shared_data_dir()
        data = data or os.environ.get("SR_KERAS_DATA")
        if not data and (shared / "BSDS500").is_dir():
            data = str(shared / "BSDS500")
        # Validation picks the best checkpoint, so it never uses the benchmark sets: DIV2K's
        # valid split for DIV2K, else the sample's validation photos (astronaut, coffee).
        div2k = bool(data) and is_div2k_root(data)
        settings.data, settings.val_data = data, None if div2k else "sample"
        if (shared / "Set5").is_dir():
            settings.benchmarks = [str(shared / "Set5"), str(shared / "Set14")]
        elif div2k:
            settings.benchmarks = [data]
        settings.results_dir = project_root() / "results"
    if out:
        settings.results_dir = Path(out)
    return settings


def dataset_name(source: str | os.PathLike) -> str:
    """A short name for a source: ``sample``, ``DIV2K`` or the folder's name."""
    if str(source) == "sample":
        return "sample"
    return "DIV2K" if is_div2k_root(source) else Path(source).resolve().name


def run_name(model: str, scale: int, global_residual: bool = False) -> str:
    """``srcnn_x4``, or ``srcnn_gr_x4`` for the global-residual variant."""
    return f"{model}{'_gr' if global_residual else ''}_x{scale}"


def deck_examples() -> dict[str, pd.DataFrame]:
    """The deck's 2x2 -> 4x4 example by each method, rounded as the deck prints it (asserted
    within 0.01 of the deck's tables)."""
    from sr_keras.interpolation import interpolate

    results = {}
    for method in ("nearest", "bilinear", "bicubic"):
        values = interpolate(np.array(DECK_INPUT, dtype=np.float64), 2, method)
        if method in DECK_TABLES:
            difference = np.abs(values - np.array(DECK_TABLES[method])).max()
            assert difference <= 0.01 + 1e-9, f"{method} differs from the deck by {difference}"
        results[method] = pd.DataFrame(values).round(2)
    return results


def baseline_table(source, scales=(2, 3, 4), methods=BASELINES, split="valid", progress=True):
    """Each baseline's mean metrics at each scale on one source, by ``dataset, scale, method``."""
    rows = []
    name = dataset_name(source)
    for scale in scales:
        for method in methods:
            predict = inference.baseline_predictor(method, scale)
            label = f"{name} x{scale} {method}"
            table = evaluate(predict, source, scale, split, progress=progress, description=label)
            mean = table.iloc[-1].drop("image").to_dict()
            rows.append({"dataset": name, "scale": scale, "method": method, **mean})
    return pd.DataFrame(rows)


def run_config(settings: StudySettings, model: str, global_residual=False) -> TrainConfig:
    """A study run's ``TrainConfig``: the model's recipe with this mode's data and precision."""
    if settings.data is None:
        raise SRKerasError(
            "the full study needs training data: pass --train-data (a DIV2K root or a folder of "
            "HR images) or set SR_KERAS_DATA"
        )
    out = str(settings.runs_dir / run_name(model, settings.scale, global_residual))
    where = (settings.data, settings.val_data, out, settings.scale, global_residual)
    config = recipe(model, settings.quick, *where)
    return dataclasses.replace(config, precision=settings.precision)


def recipe_table(settings: StudySettings, model: str, global_residual=False) -> pd.DataFrame:
    """The hyperparameters :func:`train_model` uses, one row per ``TrainConfig`` field."""
    fields = dataclasses.asdict(run_config(settings, model, global_residual))
    return pd.DataFrame({"value": pd.Series(fields, dtype=object)}).rename_axis("field")


def train_model(settings: StudySettings, model: str, global_residual=False, verbose="auto"):
    """Trains one model with its recipe (resuming an interrupted run, reloading a finished one):
    ``(model, log)``. A full run publishes ``results/weights/<run>.keras`` and
    ``results/logs/<run>.csv`` and ``.json``, and reloads them rather than train over them
    (delete them, or give ``--out``, to retrain)."""
    config = run_config(settings, model, global_residual)
    name = run_name(model, settings.scale, global_residual)
    short = name.rsplit("_x", 1)[0]
    weights, log = _weights_path(settings, short), _log_path(settings, short, ".csv")
    if settings.mode == "full" and weights.is_file() and log.is_file():
        return inference.load_model(short, settings.scale, weights), pd.read_csv(log)
    trained, history = train(config, verbose=verbose)
    if settings.mode == "full":
        publish(Path(config.out), settings.results_dir, name)
    return trained, history


def _weights_path(settings: StudySettings, name: str) -> Path:
    if settings.mode == "shipped":
        return inference.default_weights_path(name, settings.scale)
    if settings.quick:
        return settings.runs_dir / f"{name}_x{settings.scale}" / "best.keras"
    return settings.results_dir / "weights" / f"{name}_x{settings.scale}.keras"


def _log_path(settings: StudySettings, name: str, suffix: str) -> Path:
    logs = _weights_path(settings, name).parent.parent / "logs"
    return logs / f"{name}_x{settings.scale}{suffix}"


def all_trained(settings: StudySettings, models=None) -> dict[str, keras.Model]:
    """This mode's trained models (of the architectures ``models``, default all) by name, in the
    recipes' order, then the other published weights (``edsr_baseline_gr_realistic``...)."""
    names = [name for model in RECIPES for name in (model, f"{model}_gr")]
    if not settings.quick:
        published = inference.shipped_models(settings.scale, _weights_path(settings, "").parent)
        names = [name for name in names if name in published]
        names += [name for name in published if name not in names]
    if models is not None:
        names = [name for name in names if inference.architecture_of(name)[0] in models]
    found = {}
    for name in names:
        path = _weights_path(settings, name)
        if path.is_file():
            found[name] = inference.load_model(name, settings.scale, path, settings.precision)
    return found


def evaluate_models(settings: StudySettings, trained, self_ensemble=False):
    """The comparison table of bicubic and the trained models (name -> model) on each benchmark:
    ``Dataset``, :func:`sr_keras.evaluate.comparison_table`'s columns, ``1 MP (s)`` (seconds to a
    1000x1000 output), ``Precision``, the published runs' ``Budget`` and, with ``self_ensemble``,
    :data:`ENSEMBLE_GAIN` (the 8-way ensemble's Y-PSNR gain, for 8x the time)."""
    scale = settings.scale
    runs = {"bicubic": inference.baseline_predictor("bicubic", scale)}
    runs |= {name: inference.model_predictor(model, scale) for name, model in trained.items()}
    ensembled = {n: inference.model_predictor(m, scale, ensemble=True) for n, m in trained.items()}
    parameters = {name: model.count_params() for name, model in trained.items()}
    frames = []
    for source in settings.benchmarks:
        tables = {n: evaluate(run, source, scale, description=n) for n, run in runs.items()}
        table = comparison_table(tables, parameters)
        table.insert(0, "Dataset", dataset_name(source))
        if self_ensemble:
            gains = {
                name: evaluate(run, source, scale, description=f"{name} x8")["psnr_y"].iloc[-1]
                - tables[name]["psnr_y"].iloc[-1]
                for name, run in ensembled.items()
            }
            table[ENSEMBLE_GAIN] = [round(gains.get(name, np.nan), 3) for name in table["Name"]]
        frames.append(table)
    table = pd.concat(frames, ignore_index=True)
    # A full run times a 1000x1000 output (best of 3); the others one smaller image, scaled.
    side, repeats = {"full": (1000, 3), "shipped": (500, 1)}.get(settings.mode, (200, 1))
    seconds = {name: megapixel_seconds(run, scale, side, repeats) for name, run in runs.items()}
    table["1 MP (s)"] = [round(seconds[name], 3) for name in table["Name"]]
    precision = resolve_precision(settings.precision)
    table["Precision"] = [precision if name in trained else "" for name in table["Name"]]
    budgets = [budget(settings, name) for name in table["Name"]]
    if any(budgets):
        table["Budget"] = budgets
    if settings.smoke:
        print(f"{settings.smoke}: these numbers only show that the code runs")
    return table


def budget(settings: StudySettings, name: str) -> str:
    """A published run's ``steps x batch @ HR patch`` (then the run it continued or its blend);
    "" without a log beside its weights."""
    path = _log_path(settings, name, ".json")
    if not path.is_file():
        return ""
    record = json.loads(path.read_text())
    config, kept = record["config"], record["summary"].get("weights", "best")
    text = f"{record['summary']['steps']:,} x {config['batch_size']} @ {config['patch_size']}"
    start = _started_from(config)
    blend = "; blended with its protocol twin" if kept.startswith("blend") else ""
    return text + (f" from {start}" if start else "") + blend


def _started_from(config: dict) -> str:
    """The run a published run continued (``init_from``'s runs folder/run), or ""."""
    return "/".join(Path(config.get("init_from") or "").parts[-3:-1])


def outputs_figure(
    settings: StudySettings,
    trained=None,
    image_index: int = 0,
    source=None,
    baselines=("bicubic",),
    split: str = "valid",
    degradation: str = "bicubic",
):
    """The baselines' and models' (name -> model) outputs on one image of ``source`` (default the
    first benchmark; the index wraps), beside HR and LR, with one zoomed crop."""
    scale, source = settings.scale, source or settings.benchmarks[0]
    pairs = find_pairs(source, split, scale)
    pair = pairs[image_index % len(pairs)]
    lr, hr = load_degraded(pair, scale, degradation)
    predictors = {method: inference.baseline_predictor(method, scale) for method in baselines}
    for name, model in (trained or {}).items():
        predictors[name] = inference.model_predictor(model, scale)
    outputs = {name: quantize(predict(lr)) for name, predict in predictors.items()}
    caption = "{psnr_y:.2f} dB / {ssim_y:.4f}"
    captions = {name: caption.format(**measure(sr, hr, scale)) for name, sr in outputs.items()}
    label = f"{settings.smoke}: " if trained and settings.smoke else ""
    made = "" if degradation == "bicubic" else f", LR {degradation}"
    title = f"{label}{dataset_name(source)} / {pair.name}, x{scale}{made}: Y-PSNR / Y-SSIM"
    return comparison_figure(hr, lr, outputs, scale, captions=captions, title=title)


def learning_curves_figure(settings: StudySettings, log: pd.DataFrame, name: str):
    """The learning curves of one run, titled with its name (and the smoke run's label)."""
    label = f"{settings.smoke}: " if settings.smoke else ""
    return learning_curves(log, title=f"{label}{name}: training loss and validation Y-PSNR")


def save(settings: StudySettings, figure, filename: str) -> Path:
    """Saves a figure into the mode's figures folder and returns the path."""
    return save_figure(figure, settings.figures_dir / filename)


def publish_table(settings: StudySettings, table: pd.DataFrame, stem: str, title: str) -> Path:
    """Writes ``<stem>.csv`` and ``<stem>.md`` (under ``title``, the mode and the machine) into
    the results folder."""
    what = settings.smoke or f"Mode: {settings.mode}"
    note = f"{title}\n\n{what}. Machine: {machine_description()}."
    path = settings.results_dir / f"{stem}.md"
    write_table(table, path.with_suffix(".csv"), path, note)
    return path


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
    """One row per published run (``results/logs/*.json``): the weights it keeps (best, last or a
    blend), budget, recipe, precision, best validation Y-PSNR, wall and CPU time (all threads;
    empty before it was logged), machine."""
    rows = []
    for path in sorted((settings.results_dir / "logs").glob("*.json")):
        record = json.loads(path.read_text())
        config, summary = record["config"], record["summary"]
        log = pd.read_csv(path.with_suffix(".csv"))
        cpu = log["cpu_seconds"].sum() / 60 if "cpu_seconds" in log else float("nan")
        start = _started_from(config)
        rows.append({
            "Weights": f"{path.stem}.keras", "Kept": summary.get("weights", "best"),
            "Data": Path(config["data"]).name,
            "LR made by": config.get("degradation", "bicubic"), "Steps": summary["steps"],
            "Batch": config["batch_size"], "HR patch": config["patch_size"], "From": start,
            "Loss": config["loss"], "LR": config["learning_rate"],
            "Schedule": config["schedule"], "EMA": config.get("ema") or "",
            "Precision": summary.get("precision", "float32"),
            "Best val Y-PSNR": round(summary["best_val_psnr_y"], 2),
            "Wall (min)": round(summary["train_seconds"] / 60, 1), "CPU (min)": round(cpu, 1),
            "Machine": summary["machine"],
        })  # fmt: skip
    return pd.DataFrame(rows)


def tradeoff_figures(settings: StudySettings, table: pd.DataFrame):
    """PSNR against parameters and against time per image, on the first benchmark."""
    first = table[table["Dataset"] == table["Dataset"].iloc[0]]
    label = f"{settings.smoke}: " if settings.smoke else ""
    title = f"{label}{first['Dataset'].iloc[0]} x{settings.scale}"
    return tuple(tradeoff_plot(first, x, title=title) for x in ("Parameters", "Time (s)"))


#: The note on top of each ``baselines_<dataset>.md``.
BASELINES_NOTE = (
    "Standard protocol: HR cropped to a multiple of the scale, LR = MATLAB bicubic downscale "
    "with antialiasing rounded to uint8; outputs rounded to uint8; Y-PSNR/Y-SSIM on ITU-R "
    "BT.601 luma and RGB PSNR/MSE, border of `scale` pixels shaved. `bicubic` is MATLAB's "
    "kernel (a = -0.5, the published baseline), `bicubic_opencv` the deck's (a = -0.75). "
    "`seconds` is the time per image."
)


def run_baselines(settings: StudySettings, sources, scales=(2, 3, 4), split="valid"):
    """Writes ``baselines_<dataset>.csv``, ``.md`` and, at the largest scale, a figure for each
    source; returns the combined table."""
    tables = []
    at_largest = dataclasses.replace(settings, scale=max(scales))
    for source in sources:
        table = baseline_table(source, scales, split=split)
        name = dataset_name(source)
        command = f"sr-keras study --baselines-only --data {source} --scales "
        command += ",".join(map(str, scales))
        note = f"# Interpolation baselines: {name}\n\n{BASELINES_NOTE}\n\n"
        note += f"Produced by `{command}` on: {machine_description()}."
        stem = settings.results_dir / f"baselines_{name}"
        write_table(table, stem.with_suffix(".csv"), stem.with_suffix(".md"), note)
        figure = outputs_figure(at_largest, source=source, baselines=BASELINES[:3], split=split)
        save(settings, figure, f"baselines_{name}_x{at_largest.scale}.png")
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _comparison_title(settings: StudySettings) -> str:
    command = {"shipped": "", "quick": " --quick-train", "full": " --full"}[settings.mode]
    title = (
        f"# Comparison of the deck's models (x{settings.scale}, standard protocol)\n\n"
        f"Produced by `sr-keras study{command}`; evaluated on "
        f"{', '.join(map(dataset_name, settings.benchmarks))}; "
    )
    if settings.mode != "shipped":
        return title + f"training data: {settings.data}."
    return title + (
        "the shipped weights (results/weights; their training runs in results/logs). The "
        "sample's validation photos (astronaut, coffee) also picked each shipped checkpoint; "
        "`--full` evaluates on Set5 and Set14."
    )


def run_models(settings: StudySettings, models=None, self_ensemble=False) -> pd.DataFrame:
    """Trains (quick, full) or loads (shipped) the models, then writes the comparison table and
    figure; the shipped mode also upscales :data:`UPSCALED_PHOTO` with the default model."""
    if settings.mode != "shipped":
        verbose = 1 if sys.stdout.isatty() else 2
        for model in models or RECIPES:
            for residual in (False, True):
                name = run_name(model, settings.scale, residual)
                print(f"\ntraining {name} ({settings.mode} mode, data: {settings.data})")
                train_model(settings, model, residual, verbose=verbose)
    trained = all_trained(settings, models if settings.mode == "shipped" else None)
    if not trained:
        raise SRKerasError(f"no trained model found for {', '.join(models or RECIPES)}")
    table = evaluate_models(settings, trained, self_ensemble=self_ensemble)
    publish_table(settings, table, "comparison", _comparison_title(settings))
    save(settings, outputs_figure(settings, trained), "comparison.png")
    budgets = "; the .md adds training budgets" if "Budget" in table else ""
    print(f"\n{settings.smoke or 'Comparison'} (x{settings.scale}{budgets}):")
    print(table.drop(columns="Budget", errors="ignore").to_string(index=False))
    print(f"\nwrote {settings.results_dir}/comparison.md and figures in {settings.figures_dir}")
    if settings.mode == "shipped":
        name = inference.default_model(settings.scale)
        photo, folder = sample_dir() / UPSCALED_PHOTO, settings.results_dir / "upscaled"
        written, notices, errors = inference.upscale_files(
            [photo], folder, name, settings.scale, progress=False, precision=settings.precision
        )
        print("\n".join([*notices, *errors, *(f"wrote {path} ({name})" for path in written)]))
    return table


def run(
    mode=None,
    out=None,
    models=None,
    scales=(2, 3, 4),
    data=None,
    train_data=None,
    baselines_only=False,
    self_ensemble=False,
    split="valid",
    precision=None,
) -> StudySettings:
    """``sr-keras study``: the baselines on ``data`` (default the sample, plus the benchmarks in
    the full mode), then, unless ``baselines_only``, :func:`run_models`."""
    settings = study_settings(mode, train_data, precision=precision, out=out)
    sources = data or list(dict.fromkeys(["sample", *settings.benchmarks]))
    print(format_table(run_baselines(settings, sources, scales, split)))
    print(f"\nwrote {settings.results_dir}/baselines_<dataset>.md and .csv", end="")
    print(f", figures in {settings.figures_dir}")
    if not baselines_only:
        run_models(settings, models, self_ensemble)
    return settings

"""Download the official DIV2K archives into their official layout (pooch: progress, SHA-256)."""

import argparse
import itertools
import os
import shutil
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pooch
import requests

DIV2K_BASE_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
DIV2K_SCALES = (2, 3, 4)
DIV2K_SUBSETS = ("train", "valid")
EXPECTED_IMAGE_COUNTS = {"train": 800, "valid": 100}
COMPLETE_MARKER_NAME = ".complete"
_SHA256 = """\
DIV2K_train_HR.zip 9d0b9c463f6e35b6c62cc6a930ee2224f670b34c1df841a57670f9acf0f6c335
DIV2K_train_LR_bicubic_X2.zip a53a424317575838dadce4bcd97cf7b744d6855f43740ed5f0245af3cf4bd850
DIV2K_train_LR_bicubic_X3.zip ad5c8e5507e2765823d3c2c5bd0934842efcd487c5370604c224090898b3163a
DIV2K_train_LR_bicubic_X4.zip f006b837f4eb52b82909aa01478e6d6d199eefce932179491d0c9dbb706dde3a
DIV2K_valid_HR.zip 20dd31fd84d777bc1cf5d6b7654a3f569c0aec74458ae094122ad1d0489900fc
DIV2K_valid_LR_bicubic_X2.zip 60eed9875c697df51204aa579e2a699e1d5215095788a097ff54dd17e2664d57
DIV2K_valid_LR_bicubic_X3.zip 04b9a2ed3b4a0715d3924d3ae8514830c3328fac8d30512ce716d6f419e052a3
DIV2K_valid_LR_bicubic_X4.zip a50a5d1c4b88de4e8d300d8fb2b904c52fe93b2b298a4899697760d7cbb6d553
"""  # Of the official archives, as registered by TensorFlow Datasets.
DIV2K_SHA256 = dict(map(str.split, _SHA256.splitlines()))
_FIXES = (  # What to do before re-running, by error type; the first match wins.
    ((requests.RequestException, ValueError), "nothing was kept; check the network and --base-url"),
    ((zipfile.BadZipFile, shutil.ReadError), "{kept} is damaged: delete it"),
    (OSError, "free disk space or fix the permissions"),
)


class DownloadError(RuntimeError):
    """An archive could not be fetched or extracted; the one-line message names the fix."""


class _SubsetError(ValueError, argparse.ArgumentTypeError): ...  # Also a clean --subset error.


def _fetch(name: str, url: str, root: Path, folder: Path, keep: bool, progress: bool) -> None:
    """Downloads (or reuses ``root/downloads/NAME``) one archive and renames its folder in."""
    work = root / f".{name}.partial"  # This command's own; a killed run's is reused, then removed.
    source = kept = root / "downloads" / name
    try:
        if not kept.is_file():
            source = Path(pooch.retrieve(url, DIV2K_SHA256[name], name, work, progressbar=progress))
        pooch.get_logger().info("Extracting %s into %s", name, root / folder)
        shutil.unpack_archive(source, work, "zip")  # Checks every member's CRC.
        if not (work / folder).is_dir():
            raise DownloadError(f"{url} has no folder {folder.as_posix()}: check --base-url.")
        (work / folder / COMPLETE_MARKER_NAME).write_text(f"extracted from {name}\n")
        (root / folder).parent.mkdir(parents=True, exist_ok=True)
        os.replace(work / folder, root / folder)
        if keep and source != kept:
            kept.parent.mkdir(exist_ok=True)
            os.replace(source, kept)
    except (OSError, ValueError, zipfile.BadZipFile) as error:
        fix = next(fix for kind, fix in _FIXES if isinstance(error, kind)).format(kept=kept)
        detail = " ".join(str(error).split()).rstrip(".")
        message = f"Could not get {name} from {url}: {detail}; {fix}, then re-run the command."
        raise DownloadError(message) from error
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _normalize_subsets(subsets: str | Iterable[str]) -> list[str]:
    """Splits ``"train,valid"``, checks the names, drops duplicates; raises ValueError."""
    names = subsets.split(",") if isinstance(subsets, str) else subsets
    result = list(dict.fromkeys(name.strip() for name in names if name.strip()))
    if not result or any(subset not in DIV2K_SUBSETS for subset in result):
        raise _SubsetError(f"subsets: give one or more of {DIV2K_SUBSETS}, got {result!r}")
    return result


def download_div2k(
    root: str | os.PathLike[str],
    scale: int = 4,
    subsets: str | Iterable[str] = ("train", "valid"),
    base_url: str = DIV2K_BASE_URL,
    include_hr: bool = True,
    include_lr: bool = True,
    keep_archives: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Downloads DIV2K's ``subsets`` (HR, LR bicubic x``scale``) into ``root``, official layout.

    Archives are fetched and extracted in hidden ``root/.NAME.partial/`` folders, then renamed into
    place with a ``.complete`` marker; complete folders are skipped, others never replaced. Returns
    the image folders, HR first; raises ValueError or DownloadError (one line naming the fix).
    """
    if isinstance(scale, bool) or scale not in DIV2K_SCALES:
        raise ValueError(f"scale: DIV2K provides scales {DIV2K_SCALES}, got {scale!r}")
    subset_list = _normalize_subsets(subsets)
    if not (include_hr or include_lr):
        raise ValueError("include_hr, include_lr: at least one of them must be True")
    kinds = [hr for hr, wanted in ((True, include_hr), (False, include_lr)) if wanted]
    logger, disabled, folders = pooch.get_logger(), pooch.get_logger().disabled, []
    logger.disabled = not progress  # Not setLevel: this logger's level cache is never cleared.
    try:
        for subset, hr in itertools.product(subset_list, kinds):
            name = f"DIV2K_{subset}_HR.zip" if hr else f"DIV2K_{subset}_LR_bicubic_X{scale}.zip"
            folder = Path(name[:-4]) if hr else Path(f"DIV2K_{subset}_LR_bicubic", f"X{scale}")
            target, expected = Path(root) / folder, EXPECTED_IMAGE_COUNTS[subset]
            count = len(list(target.glob("*.png")))
            if (target / COMPLETE_MARKER_NAME).is_file() or count == expected:
                logger.info("Skipping %s: %s is already complete", name, target)
            elif target.is_dir() and any(target.iterdir()):
                fix = "it is never replaced: move it away, then re-run the command."
                raise DownloadError(f"{target} holds {count} of {expected} images; {fix}")
            else:
                url = f"{base_url.rstrip('/')}/{name}"
                _fetch(name, url, Path(root), folder, keep_archives, progress)
            folders.append(target)
    finally:
        logger.disabled = disabled
    return folders


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``sr-keras download div2k`` options to ``parser``."""
    add = parser.add_argument
    add("--root", default="data/DIV2K", help="where the data goes (default: %(default)s)")
    add("--scale", type=int, choices=DIV2K_SCALES, default=4, help="LR scale (default: 4)")
    add("--subset", type=_normalize_subsets, default=list(DIV2K_SUBSETS), metavar="train,valid")
    kinds = parser.add_mutually_exclusive_group()
    kinds.add_argument("--hr-only", action="store_true", help="only the high-resolution images")
    kinds.add_argument("--lr-only", action="store_true", help="only the low-resolution images")
    add("--keep-archives", action="store_true", help="keep the zip files in ROOT/downloads")
    add("--base-url", default=DIV2K_BASE_URL, help="folder URL serving the archives")
    add("--no-progress", action="store_true", help="no progress bars or status lines")


def run_from_args(args: argparse.Namespace) -> int:
    """Runs ``sr-keras download div2k``; returns 0, or 1 after printing the error's one line."""
    where = (args.root, args.scale, args.subset, args.base_url)
    how = (not args.lr_only, not args.hr_only, args.keep_archives, not args.no_progress)
    try:
        folders = download_div2k(*where, *how)
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"DIV2K data is in {Path(args.root).resolve()}:")
    for folder in folders:
        print(f"  {folder} ({len(list(folder.glob('*.png')))} images)")
    return 0

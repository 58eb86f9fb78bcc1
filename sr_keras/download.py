"""Download the official DIV2K archives and extract them into the official folder layout.

The DIV2K data set (Agustsson and Timofte, NTIRE 2017) is distributed as one zip archive per
subset and image kind:

* ``DIV2K_train_HR.zip`` / ``DIV2K_valid_HR.zip`` hold ``DIV2K_{subset}_HR/0001.png ...``;
* ``DIV2K_train_LR_bicubic_X4.zip`` (and ``X2``, ``X3``) hold
  ``DIV2K_{subset}_LR_bicubic/X4/0001x4.png ...``.

:func:`download_div2k` fetches the requested archives into ``root/downloads/``, resumes an
interrupted download with an HTTP ``Range`` request, verifies every archive (size and zip CRCs),
and extracts it so that ``root`` ends up with the official layout::

    root/DIV2K_train_HR/0001.png ... 0800.png
    root/DIV2K_train_LR_bicubic/X4/0001x4.png ... 0800x4.png
    root/DIV2K_valid_HR/0801.png ... 0900.png
    root/DIV2K_valid_LR_bicubic/X4/0801x4.png ... 0900x4.png

Each extracted folder receives a ``.complete`` marker file once it is fully in place; a folder
with the marker (or with the full number of images) is skipped, so re-running the same command is
cheap and safe. This module uses only the standard library and ``tqdm`` (no TensorFlow import).
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections.abc import Iterable
from pathlib import Path

from tqdm import tqdm

__all__ = [
    "DIV2K_BASE_URL",
    "DIV2K_SCALES",
    "DIV2K_SUBSETS",
    "EXPECTED_IMAGE_COUNTS",
    "COMPLETE_MARKER_NAME",
    "DownloadError",
    "add_arguments",
    "download_div2k",
    "run_from_args",
]

DIV2K_BASE_URL = "https://data.vision.ee.ethz.ch/cvl/DIV2K/"
"""Where the official DIV2K archives are served."""

DIV2K_SCALES = (2, 3, 4)
"""Downscaling factors with an official bicubic low-resolution archive."""

DIV2K_SUBSETS = ("train", "valid")
"""Official DIV2K subsets (the test subset has no public high-resolution images)."""

EXPECTED_IMAGE_COUNTS = {"train": 800, "valid": 100}
"""Number of images in each subset: a folder that already holds this many PNG files is kept."""

COMPLETE_MARKER_NAME = ".complete"
"""Name of the marker file written into a folder once its archive is fully extracted."""

NETWORK_TIMEOUT_SECONDS = 60
"""Timeout for connecting to the server and for each read from it."""

DOWNLOAD_CHUNK_BYTES = 1024 * 1024
"""Number of bytes read from the server per chunk."""

DOWNLOADS_FOLDER_NAME = "downloads"
"""Folder inside ``root`` that holds the archives while they are downloaded."""

_CONTENT_RANGE_PATTERN = re.compile(r"^\s*bytes\s+(?:(\d+)-(\d+)|\*)\s*/\s*(\d+|\*)\s*$")


class DownloadError(RuntimeError):
    """Raised when an archive cannot be downloaded, verified or extracted."""


def _archive_name(subset: str, kind: str, scale: int) -> str:
    """Returns the official archive file name for one subset and image kind.

    Args:
        subset: ``"train"`` or ``"valid"``.
        kind: ``"HR"`` for high-resolution images, ``"LR"`` for bicubic low-resolution images.
        scale: Downscaling factor of the low-resolution images (ignored for ``"HR"``).

    Returns:
        The archive file name, for example ``"DIV2K_train_LR_bicubic_X4.zip"``.
    """
    if kind == "HR":
        return f"DIV2K_{subset}_HR.zip"
    return f"DIV2K_{subset}_LR_bicubic_X{scale}.zip"


def _extracted_relative_folder(subset: str, kind: str, scale: int) -> Path:
    """Returns the folder, relative to ``root``, that an archive extracts its images into.

    Args:
        subset: ``"train"`` or ``"valid"``.
        kind: ``"HR"`` or ``"LR"``.
        scale: Downscaling factor of the low-resolution images (ignored for ``"HR"``).

    Returns:
        For example ``Path("DIV2K_train_HR")`` or ``Path("DIV2K_train_LR_bicubic/X4")``.
    """
    if kind == "HR":
        return Path(f"DIV2K_{subset}_HR")
    return Path(f"DIV2K_{subset}_LR_bicubic") / f"X{scale}"


def _report(message: str, progress: bool) -> None:
    """Writes a status line to standard error when progress output is enabled.

    Args:
        message: The line to write.
        progress: Whether progress output is enabled; nothing is written otherwise.
    """
    if progress:
        tqdm.write(message, file=sys.stderr)


def _count_images(folder: Path) -> int:
    """Counts the PNG files directly inside a folder.

    Args:
        folder: The folder to inspect.

    Returns:
        The number of ``*.png`` files in ``folder``.
    """
    return sum(1 for path in folder.glob("*.png") if path.is_file())


def _is_complete(folder: Path, subset: str) -> bool:
    """Tells whether an extracted folder is complete and can be skipped.

    A folder is complete when it holds the ``.complete`` marker, or when it holds the expected
    number of images for its subset (for data extracted by hand); in the latter case the marker
    is written so that later checks are instant.

    Args:
        folder: The extracted image folder.
        subset: The subset the folder belongs to, used to look up the expected image count.

    Returns:
        True if the folder is complete.
    """
    if not folder.is_dir():
        return False
    marker = folder / COMPLETE_MARKER_NAME
    if marker.is_file():
        return True
    expected_count = EXPECTED_IMAGE_COUNTS.get(subset)
    if expected_count is not None and _count_images(folder) == expected_count:
        marker.write_text("complete (image count matched)\n", encoding="utf-8")
        return True
    return False


def _parse_content_range(value: str | None) -> tuple[int | None, int | None]:
    """Parses an HTTP ``Content-Range`` header.

    Args:
        value: The header value, for example ``"bytes 100-199/200"`` or ``"bytes */200"``.

    Returns:
        The first byte position and the total length; either is None when absent or unknown.
    """
    if not value:
        return None, None
    match = _CONTENT_RANGE_PATTERN.match(value)
    if match is None:
        return None, None
    first_byte = int(match.group(1)) if match.group(1) is not None else None
    total_length = int(match.group(3)) if match.group(3) != "*" else None
    return first_byte, total_length


def _parse_content_length(value: str | None) -> int | None:
    """Parses an HTTP ``Content-Length`` header.

    Args:
        value: The header value.

    Returns:
        The length in bytes, or None when absent or malformed.
    """
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


def _network_error(url: str, part_path: Path, error: BaseException) -> DownloadError:
    """Builds the error raised when the network fails during a download.

    Args:
        url: The URL being downloaded.
        part_path: The partial file that keeps the bytes received so far.
        error: The underlying network error.

    Returns:
        A DownloadError that names the URL and explains how to resume.
    """
    kept_bytes = part_path.stat().st_size if part_path.exists() else 0
    return DownloadError(
        f"Could not download {url}: {error}. {kept_bytes} bytes are kept in {part_path}; "
        "the download resumes from there when the same command is re-run."
    )


def _fetch(url: str, part_path: Path, progress: bool) -> int | None:
    """Downloads a URL into a partial file, resuming from the bytes already in that file.

    Args:
        url: The URL to download.
        part_path: The ``.part`` file to write; if it exists, its bytes are kept and only the rest
            is requested with a ``Range`` header.
        progress: Whether to show a progress bar.

    Returns:
        The total length of the file according to the server, or None if the server did not say.

    Raises:
        DownloadError: If the server or the network fails, or the transfer stops before the end
            (the bytes received so far are kept for the next attempt).
    """
    existing_bytes = part_path.stat().st_size if part_path.exists() else 0
    headers = {"User-Agent": "sr_keras-download/1.0"}
    if existing_bytes > 0:
        headers["Range"] = f"bytes={existing_bytes}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=NETWORK_TIMEOUT_SECONDS)
    except urllib.error.HTTPError as error:
        if error.code == 416 and existing_bytes > 0:
            # Range not satisfiable: the partial file already holds the whole archive (or more).
            _, total_length = _parse_content_range(error.headers.get("Content-Range"))
            error.close()
            if total_length is None or total_length == existing_bytes:
                return existing_bytes
            # The partial file does not match the archive on the server: start again.
            part_path.unlink()
            return _fetch(url, part_path, progress)
        error.close()
        raise DownloadError(
            f"Could not download {url}: the server answered HTTP {error.code} ({error.reason}). "
            "Check --base-url, then re-run the same command; any partial download is resumed."
        ) from error
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        raise _network_error(url, part_path, error) from error

    with response:
        status = response.status
        content_length = _parse_content_length(response.headers.get("Content-Length"))
        if status == 206:
            first_byte, total_length = _parse_content_range(response.headers.get("Content-Range"))
            if first_byte != existing_bytes:
                # The server sent a different range than the one asked for: start again.
                response.close()
                part_path.unlink()
                return _fetch(url, part_path, progress)
            if total_length is None and content_length is not None:
                total_length = existing_bytes + content_length
            mode = "ab"
        elif status == 200:
            # Either no Range was sent, or the server ignored it: restart from byte 0.
            existing_bytes = 0
            total_length = content_length
            mode = "wb"
        else:
            raise DownloadError(
                f"Could not download {url}: unexpected HTTP status {status}. "
                "Re-run the same command to try again."
            )

        with (
            open(part_path, mode) as output,
            tqdm(
                total=total_length,
                initial=existing_bytes,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                desc=part_path.name.removesuffix(".part"),
                disable=not progress,
                file=sys.stderr,
            ) as progress_bar,
        ):
            while True:
                try:
                    chunk = response.read(DOWNLOAD_CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as error:
                    output.close()
                    raise _network_error(url, part_path, error) from error
                if not chunk:
                    break
                output.write(chunk)
                progress_bar.update(len(chunk))
    return total_length


def _verify_archive(archive_path: Path, expected_size: int | None, archive_name: str) -> None:
    """Checks a downloaded archive; deletes it and raises if it is corrupt.

    Args:
        archive_path: The downloaded file.
        expected_size: Total length announced by the server, or None if unknown.
        archive_name: The archive name used in error messages.

    Raises:
        DownloadError: If the size differs from the announced length, the file is not a zip
            archive, or a member fails its CRC check. The file is deleted first.
    """
    actual_size = archive_path.stat().st_size
    problem = None
    if expected_size is not None and actual_size != expected_size:
        problem = f"it has {actual_size} bytes but the server announced {expected_size}"
    else:
        try:
            with zipfile.ZipFile(archive_path) as archive:
                bad_member = archive.testzip()
            if bad_member is not None:
                problem = f"member {bad_member} failed its CRC check"
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as error:
            problem = f"it is not a readable zip archive ({error})"
    if problem is not None:
        archive_path.unlink(missing_ok=True)
        raise DownloadError(
            f"The downloaded archive {archive_name} is corrupt: {problem}. The damaged file was "
            "deleted; re-run the same command to download it again."
        )


def _extract_archive(archive_path: Path, root: Path, relative_folder: Path, name: str) -> Path:
    """Extracts an archive next to ``root`` and moves its image folder into place.

    The archive is extracted into a hidden temporary folder inside ``root``; the image folder is
    marked complete there and then renamed into place, so a half-extracted folder is never
    visible under its final name.

    Args:
        archive_path: The verified zip archive.
        root: The data set root folder.
        relative_folder: The image folder inside the archive (and inside ``root``), for example
            ``Path("DIV2K_train_LR_bicubic/X4")``.
        name: The archive name used in messages.

    Returns:
        The final image folder, ``root / relative_folder``.

    Raises:
        DownloadError: If the archive does not contain the expected folder.
    """
    target = root / relative_folder
    temporary_folder = Path(tempfile.mkdtemp(prefix=f".extract-{name}-", dir=root))
    try:
        with zipfile.ZipFile(archive_path) as archive:
            archive.extractall(temporary_folder)
        extracted = temporary_folder / relative_folder
        if not extracted.is_dir():
            raise DownloadError(
                f"The archive {name} does not contain the folder {relative_folder.as_posix()}; "
                "it is not an official DIV2K archive (check --base-url)."
            )
        (extracted / COMPLETE_MARKER_NAME).write_text(
            f"complete (extracted from {name})\n", encoding="utf-8"
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            # An incomplete folder from an earlier attempt (no marker): replace it.
            shutil.rmtree(target)
        os.replace(extracted, target)
    finally:
        shutil.rmtree(temporary_folder, ignore_errors=True)
    return target


def _download_and_extract(
    name: str,
    url: str,
    root: Path,
    relative_folder: Path,
    keep_archives: bool,
    progress: bool,
) -> Path:
    """Downloads, verifies and extracts one archive.

    Args:
        name: The archive file name.
        url: The archive URL.
        root: The data set root folder.
        relative_folder: The image folder inside the archive and inside ``root``.
        keep_archives: Whether to keep the zip file in ``root/downloads`` after extraction.
        progress: Whether to show progress output.

    Returns:
        The extracted image folder.

    Raises:
        DownloadError: If the download, the verification or the extraction fails.
    """
    downloads_folder = root / DOWNLOADS_FOLDER_NAME
    downloads_folder.mkdir(parents=True, exist_ok=True)
    archive_path = downloads_folder / name
    part_path = downloads_folder / f"{name}.part"

    if archive_path.is_file():
        # Downloaded earlier (kept archive, or interrupted before extraction): re-verify only.
        _report(f"Using the downloaded archive {archive_path}", progress)
        _verify_archive(archive_path, None, name)
    else:
        if part_path.exists():
            _report(f"Resuming {name} from {part_path.stat().st_size} bytes", progress)
        total_length = _fetch(url, part_path, progress)
        actual_size = part_path.stat().st_size
        if total_length is not None and actual_size < total_length:
            raise DownloadError(
                f"The download of {url} stopped after {actual_size} of {total_length} bytes. "
                f"The bytes received are kept in {part_path}; the download resumes from there "
                "when the same command is re-run."
            )
        _verify_archive(part_path, total_length, name)
        os.replace(part_path, archive_path)

    _report(f"Extracting {name} into {root / relative_folder}", progress)
    target = _extract_archive(archive_path, root, relative_folder, name)
    if not keep_archives:
        archive_path.unlink(missing_ok=True)
        try:
            downloads_folder.rmdir()
        except OSError:
            pass  # Not empty: other archives or partial downloads are still there.
    return target


def _normalize_subsets(subsets: str | Iterable[str]) -> list[str]:
    """Validates the requested subsets and removes duplicates, keeping their order.

    Args:
        subsets: Subset names, or one comma-separated string such as ``"train,valid"``.

    Returns:
        The list of distinct subset names.

    Raises:
        ValueError: If a subset is unknown or none is given.
    """
    if isinstance(subsets, str):
        subsets = [part.strip() for part in subsets.split(",") if part.strip()]
    normalized: list[str] = []
    for subset in subsets:
        if subset not in DIV2K_SUBSETS:
            raise ValueError(
                f"subsets: unknown DIV2K subset {subset!r}; expected one of {DIV2K_SUBSETS}"
            )
        if subset not in normalized:
            normalized.append(subset)
    if not normalized:
        raise ValueError(f"subsets: give at least one of {DIV2K_SUBSETS}")
    return normalized


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
    """Downloads the official DIV2K archives and extracts them into the official layout.

    For every requested subset, the high-resolution archive ``DIV2K_{subset}_HR.zip`` and the
    bicubic low-resolution archive ``DIV2K_{subset}_LR_bicubic_X{scale}.zip`` are downloaded into
    ``root/downloads/`` (as ``NAME.zip.part`` until complete; an existing ``.part`` file is
    resumed with an HTTP ``Range`` request), verified (size and zip CRCs), and extracted into
    ``root/DIV2K_{subset}_HR/`` and ``root/DIV2K_{subset}_LR_bicubic/X{scale}/``. An archive is
    skipped when its folder already holds the ``.complete`` marker or the expected number of
    images, so re-running is cheap.

    Args:
        root: Folder that receives the extracted data, for example ``"data/DIV2K"``. Created if
            missing.
        scale: Downscaling factor of the low-resolution images: 2, 3 or 4.
        subsets: Subsets to download, ``"train"`` and/or ``"valid"`` (a comma-separated string
            is also accepted).
        base_url: URL of the folder that serves the archives.
        include_hr: Whether to download the high-resolution images.
        include_lr: Whether to download the bicubic low-resolution images.
        keep_archives: Whether to keep the zip files in ``root/downloads/`` after extraction.
        progress: Whether to show progress bars and status lines on standard error.

    Returns:
        The extracted image folders, in the order subset by subset, high resolution first.

    Raises:
        ValueError: If ``scale`` is not 2, 3 or 4, a subset is unknown, or both ``include_hr``
            and ``include_lr`` are False.
        DownloadError: If an archive cannot be downloaded, is corrupt, or has an unexpected
            layout. Re-running the same command resumes or restarts the failed download.
    """
    if isinstance(scale, bool) or scale not in DIV2K_SCALES:
        raise ValueError(f"scale: DIV2K provides scales {DIV2K_SCALES}, got {scale!r}")
    subset_list = _normalize_subsets(subsets)
    if not include_hr and not include_lr:
        raise ValueError("include_hr, include_lr: at least one of them must be True")

    root_path = Path(root)
    root_path.mkdir(parents=True, exist_ok=True)
    base = base_url if base_url.endswith("/") else base_url + "/"
    kinds = [kind for kind, included in (("HR", include_hr), ("LR", include_lr)) if included]

    folders: list[Path] = []
    for subset in subset_list:
        for kind in kinds:
            name = _archive_name(subset, kind, scale)
            relative_folder = _extracted_relative_folder(subset, kind, scale)
            target = root_path / relative_folder
            if _is_complete(target, subset):
                _report(f"Skipping {name}: {target} is already complete", progress)
                folders.append(target)
                continue
            folders.append(
                _download_and_extract(
                    name, base + name, root_path, relative_folder, keep_archives, progress
                )
            )
    return folders


def _subset_list_argument(value: str) -> list[str]:
    """Parses the ``--subset`` command-line value.

    Args:
        value: Comma-separated subsets, for example ``"train,valid"``.

    Returns:
        The list of distinct subset names.

    Raises:
        argparse.ArgumentTypeError: If a subset is unknown or none is given.
    """
    try:
        return _normalize_subsets(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error).removeprefix("subsets: ")) from error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds the ``sr-keras download div2k`` options to an argument parser.

    Args:
        parser: The parser (usually the ``download`` sub-command parser) to extend.
    """
    parser.add_argument(
        "--root",
        default="data/DIV2K",
        help="folder that receives the extracted data (default: %(default)s)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        choices=DIV2K_SCALES,
        default=4,
        help="downscaling factor of the bicubic low-resolution images (default: %(default)s)",
    )
    parser.add_argument(
        "--subset",
        type=_subset_list_argument,
        default=list(DIV2K_SUBSETS),
        metavar="SUBSETS",
        help="comma-separated subsets to download: train, valid (default: train,valid)",
    )
    kind_group = parser.add_mutually_exclusive_group()
    kind_group.add_argument(
        "--hr-only", action="store_true", help="download only the high-resolution images"
    )
    kind_group.add_argument(
        "--lr-only", action="store_true", help="download only the low-resolution images"
    )
    parser.add_argument(
        "--keep-archives",
        action="store_true",
        help="keep the zip files in ROOT/downloads after extraction",
    )
    parser.add_argument(
        "--base-url",
        default=DIV2K_BASE_URL,
        help="URL of the folder that serves the archives (default: %(default)s)",
    )
    parser.add_argument(
        "--no-progress", action="store_true", help="do not show progress bars and status lines"
    )


def run_from_args(args: argparse.Namespace) -> int:
    """Runs the download described by parsed command-line arguments.

    Args:
        args: Arguments parsed by a parser extended with :func:`add_arguments`.

    Returns:
        0 on success, 1 if a download failed (the error is printed to standard error).
    """
    dataset = getattr(args, "dataset", "div2k")
    if dataset != "div2k":
        print(f"error: unknown data set {dataset!r}; only 'div2k' is supported", file=sys.stderr)
        return 1
    try:
        folders = download_div2k(
            root=args.root,
            scale=args.scale,
            subsets=args.subset,
            base_url=args.base_url,
            include_hr=not args.lr_only,
            include_lr=not args.hr_only,
            keep_archives=args.keep_archives,
            progress=not args.no_progress,
        )
    except DownloadError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"DIV2K data is in {Path(args.root).resolve()}:")
    for folder in folders:
        print(f"  {folder} ({_count_images(folder)} images)")
    return 0

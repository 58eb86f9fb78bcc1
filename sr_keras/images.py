"""Reading, listing and writing images: one place that turns any file into an RGB uint8 array."""

from __future__ import annotations

import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from sr_keras.utils import OVERWRITE_FLAG, SRKerasError, atomic_write_bytes

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif")


class ImageReadError(SRKerasError):
    """An image file that cannot be read or decoded."""


def to_rgb_uint8(image: np.ndarray, keep_alpha: bool = False) -> np.ndarray:
    """Converts a decoded image to ``HxWx3`` (or ``HxWx4`` with ``keep_alpha``) uint8.

    Grayscale becomes 3 channels, alpha is dropped unless ``keep_alpha``, 16-bit is scaled to
    8-bit (``round(v / 257)``) and float images in ``[0, 1]`` are scaled by 255.

    Args:
        image: Array as decoded, channels in RGB(A) order.
        keep_alpha: Keep a fourth alpha channel if there is one.

    Returns:
        The uint8 array.

    Raises:
        ValueError: If the array is not 2-D or 3-D with 1, 2, 3 or 4 channels.
    """
    image = np.asarray(image)
    if image.dtype == np.uint16:
        image = np.round(image.astype(np.float64) / 257.0)
    elif np.issubdtype(image.dtype, np.floating):
        image = np.round(np.clip(image, 0.0, 1.0) * 255.0)
    image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"image must be HxW or HxWxC with C in 1..4, got shape {image.shape}")
    channels = image.shape[2]
    if channels in (1, 2):
        gray = image[:, :, :1]
        color = np.repeat(gray, 3, axis=2)
        alpha = image[:, :, 1:2] if channels == 2 else None
    else:
        color = image[:, :, :3]
        alpha = image[:, :, 3:4] if channels == 4 else None
    if keep_alpha and alpha is not None:
        return np.concatenate([color, alpha], axis=2)
    return np.ascontiguousarray(color)


def decode_raw(path: str | os.PathLike) -> np.ndarray:
    """Decodes a file as stored (any bit depth, 1 to 4 channels), channels in RGB(A) order.

    Raises:
        ImageReadError: If the file is missing, unreadable or not a decodable image.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such image file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageReadError(f"{path}: cannot read ({error.strerror})") from error
    # JPEGs carry no alpha: decode them with the EXIF orientation applied (phone photos);
    # other formats keep every channel and bit depth (IMREAD_UNCHANGED ignores EXIF, so their
    # orientation tag is applied below).
    is_jpeg = data[:2].tobytes() == b"\xff\xd8"
    flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR if is_jpeg else cv2.IMREAD_UNCHANGED
    try:
        image = cv2.imdecode(data, flags) if data.size else None
    except cv2.error as error:  # e.g. more pixels than OpenCV accepts
        message = str(error).strip().splitlines()[-1]
        raise ImageReadError(f"{path}: cannot decode it ({message})") from error
    if image is None:
        raise ImageReadError(
            f"{path}: not a readable image (corrupt or unsupported format); "
            f"re-export it as PNG or JPEG or remove it"
        )
    if image.ndim == 3 and image.shape[2] == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return image if is_jpeg else apply_orientation(image, exif_orientation(data))


#: EXIF orientation -> (transpose first, then the number of quarter turns counterclockwise,
#: then a left-right flip) that shows the stored pixels upright.
_ORIENTATIONS = {
    2: (False, 0, True),
    3: (False, 2, False),
    4: (False, 2, True),
    5: (True, 0, False),
    6: (False, 3, False),
    7: (True, 2, False),
    8: (False, 1, False),
}


def exif_orientation(data: np.ndarray) -> int:
    """The EXIF orientation tag (1 to 8) of an encoded PNG, TIFF or WebP; 1 when it has none.

    A PNG's chunks are walked here (Pillow would decode the whole image to find an ``eXIf``
    chunk stored after the pixels); TIFF and WebP tags are read by Pillow without decoding.
    """
    head = data[:12].tobytes()
    try:
        from PIL import Image

        if head.startswith(b"\x89PNG\r\n\x1a\n"):
            exif = Image.Exif()
            exif.load(_png_chunk(data, b"eXIf"))
        elif head[:4] in (b"II*\x00", b"MM\x00*") or (head[:4], head[8:]) == (b"RIFF", b"WEBP"):
            with Image.open(io.BytesIO(data)) as image:
                exif = image.getexif()
        else:
            return 1
        orientation = int(exif.get(0x0112, 1))
    except Exception:  # no EXIF or a malformed one: nothing to turn
        return 1
    return orientation if orientation in _ORIENTATIONS else 1


def _png_chunk(data: np.ndarray, kind: bytes) -> bytes:
    """The data of the first chunk of a type in an encoded PNG; empty when there is none."""
    offset = 8
    while offset + 8 <= data.size:
        length = int.from_bytes(data[offset : offset + 4].tobytes(), "big")
        if data[offset + 4 : offset + 8].tobytes() == kind:
            return data[offset + 8 : offset + 8 + length].tobytes()
        offset += 12 + length
    return b""


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turns and flips a decoded image as its EXIF orientation says (1: unchanged)."""
    if orientation not in _ORIENTATIONS:
        return image
    transpose, turns, flip = _ORIENTATIONS[orientation]
    if transpose:
        image = image.swapaxes(0, 1)
    image = np.rot90(image, turns)
    return np.ascontiguousarray(image[:, ::-1] if flip else image)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Reads an image file as ``HxWx3`` RGB uint8 (see :func:`to_rgb_uint8`).

    Raises:
        ImageReadError: If the file is missing or cannot be decoded.
    """
    return to_rgb_uint8(decode_raw(path))


def write_image(path: str | os.PathLike, image: np.ndarray, copy: bool = True) -> Path:
    """Writes an RGB(A) or grayscale image atomically: to a temp file, then renamed.

    uint8 and uint16 arrays are written as they are; the format follows the extension.

    Args:
        path: The file to write.
        image: ``HxW`` or ``HxWxC`` array, channels in RGB(A) order.
        copy: ``False`` turns a contiguous ``image`` to OpenCV's BGR(A) order in place instead
            of copying it (for large outputs the caller is done with).

    Returns:
        The path written.

    Raises:
        SRKerasError: If the image cannot be encoded for that extension.
    """
    path = Path(path)
    image = np.asarray(image)
    code = {3: cv2.COLOR_RGB2BGR, 4: cv2.COLOR_RGBA2BGRA}.get(
        image.shape[2] if image.ndim == 3 else 0
    )
    if code is not None:
        in_place = not copy and image.flags.c_contiguous and image.flags.writeable
        image = cv2.cvtColor(image, code, dst=image if in_place else None)
    try:
        ok, encoded = cv2.imencode(path.suffix or ".png", image)
    except cv2.error:  # OpenCV raises (rather than returning False) for unknown extensions
        ok = False
    if not ok:
        raise SRKerasError(f"{path}: cannot encode an image with extension {path.suffix!r}")
    return atomic_write_bytes(path, encoded)


def list_images(folder: str | os.PathLike, what: str = "image folder") -> list[Path]:
    """Lists the image files under a folder, recursively, sorted by path.

    Args:
        folder: The folder to search.
        what: How to name the folder in error messages.

    Returns:
        Sorted paths of files with an image extension (PNG, JPEG, BMP, TIFF, WebP).

    Raises:
        SRKerasError: If the folder does not exist or holds no image.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise SRKerasError(
            f"{what} '{folder}' does not exist. Give a folder of HR images (PNG/JPEG/BMP), "
            "a DIV2K root (get it with `sr-keras download div2k --root data/DIV2K`) "
            "or 'sample' for the images that ship with scikit-image."
        )
    paths = sorted(
        p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()
    )
    if not paths:
        raise SRKerasError(
            f"{what} '{folder}' holds no image files ({', '.join(IMAGE_EXTENSIONS)}), "
            "searched recursively. Put HR images there or point to another folder."
        )
    return paths


@dataclass
class OutputPlan:
    """What a batch command will write: ``jobs`` (input, output) in input order, one-line
    ``notices`` for inputs skipped on purpose and ``errors`` for inputs that cannot run."""

    jobs: list[tuple[Path, Path]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def collect_inputs(inputs: list[str | os.PathLike]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Expands files and folders (searched recursively) into image files.

    Args:
        inputs: Image files and folders.

    Returns:
        ``(files, errors)``: ``(path, relative name)`` for each file once (a file's name; a
        folder's images relative to the folder), and a message for each input that does not
        exist or is a folder without images.
    """
    files, errors, seen = [], [], set()
    for item in map(Path, inputs):
        try:
            if item.is_dir():
                found = [
                    (path, path.relative_to(item)) for path in list_images(item, "input folder")
                ]
            elif item.exists():
                found = [(item, Path(item.name))]
            else:
                raise SRKerasError(f"input '{item}' does not exist")
        except SRKerasError as error:
            errors.append(str(error))
            continue
        for path, relative in found:
            if path.resolve() not in seen:
                seen.add(path.resolve())
                files.append((path, relative))
    return files, errors


#: Names this project gives its outputs: ``<stem>_x<scale>.png`` or ``<name>_x<scale>.png``.
_OUTPUT_NAME = re.compile(r"(.+)_x\d+\.png")


def plan_outputs(
    inputs: list[str | os.PathLike], out_dir: str | os.PathLike, scale: int, overwrite: bool = False
) -> OutputPlan:
    """Names the outputs of a batch command and applies the output rules, before any work.

    Each image is written to ``out_dir`` as ``<stem>_x<scale>.png``, keeping its sub-folder
    inside an input folder. When two inputs would get the same name (``x.jpg`` and ``x.png``),
    both keep their extension instead (``x.jpg_x4.png``, ``x.png_x4.png``); two files of the
    same name from different inputs are an error for the second. Rules:

    * an existing output is skipped with a notice, so that a rerun resumes, unless
      ``overwrite``; an output is never an input, and never replaces a folder;
    * an input inside ``out_dir`` named like the output of another input (``a_x4.png`` beside
      ``a.png``) is an earlier output: it is skipped with a notice, never read back.

    Args:
        inputs: Image files and folders.
        out_dir: The output folder.
        scale: The scale, in the output names.
        overwrite: Replace existing outputs.

    Returns:
        The plan.
    """
    files, errors = collect_inputs(inputs)
    plan = OutputPlan(errors=errors)
    kept, earlier = _without_earlier_outputs(files, Path(out_dir))
    targets = {path: Path(out_dir) / relative.parent / relative.stem for path, relative in kept}
    stems = Counter(targets.values())
    names = Counter(target.with_name(path.name) for path, target in targets.items())
    for path in targets:  # a shared stem keeps the extension, where that makes it unique
        with_extension = targets[path].with_name(path.name)
        if stems[targets[path]] > 1 and names[with_extension] == 1:
            targets[path] = with_extension
    sources = {path.resolve(): path for path, _ in kept}
    claimed: dict[Path, Path] = {}
    for path, _ in kept:
        target = targets[path].with_name(f"{targets[path].name}_x{scale}.png")
        resolved = target.resolve()
        if resolved in sources:
            plan.errors.append(f"{path}: its output {target} is the input {sources[resolved]}")
        elif resolved in claimed:
            plan.errors.append(
                f"{path}: {claimed[resolved]} writes the same output {target}; "
                "rename one or give them separate output folders"
            )
        elif target.is_dir():
            plan.errors.append(f"{path}: its output {target} is a folder")
        else:
            claimed[resolved] = path
            if target.exists() and not overwrite:
                plan.notices.append(f"skipped {target}: exists (use {OVERWRITE_FLAG} to replace)")
            else:
                plan.jobs.append((path, target))
    for path in earlier:  # one notice per file: those that are targets have theirs above
        if path.resolve() not in claimed:
            plan.notices.append(f"skipped {path}: an earlier output (not read as an input)")
    return plan


def _without_earlier_outputs(
    files: list[tuple[Path, Path]], out_dir: Path
) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """Splits the inputs into those to run and those that are outputs of other inputs
    (``a_x4.png`` beside ``a.png`` in the output folder, from an earlier run)."""
    stems = {
        ((out_dir / relative.parent).resolve(), name)
        for path, relative in files
        for name in (path.stem, path.name)
    }
    inside, kept, earlier = out_dir.resolve(), [], []
    for path, relative in files:
        match = _OUTPUT_NAME.fullmatch(path.name)
        resolved = path.resolve()
        if match and resolved.is_relative_to(inside) and (resolved.parent, match[1]) in stems:
            earlier.append(path)
        else:
            kept.append((path, relative))
    return kept, earlier

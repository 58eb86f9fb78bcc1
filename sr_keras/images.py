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
#: OpenCV's BGR(A) <-> RGB(A) by channel count (one swap, its own inverse).
_SWAP_RED_BLUE = {3: cv2.COLOR_BGR2RGB, 4: cv2.COLOR_BGRA2RGBA}


class ImageReadError(SRKerasError):
    """An image file that cannot be read or decoded."""


def to_rgb_uint8(image: np.ndarray, keep_alpha: bool = False) -> np.ndarray:
    """A decoded image as ``HxWx3`` uint8 (``HxWx4`` with ``keep_alpha`` and an alpha): gray
    becomes 3 channels, 16-bit ``round(v / 257)``, float in ``[0, 1]`` times 255."""
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
    color = 1 if image.shape[2] <= 2 else 3  # gray (+ alpha) or RGB (+ alpha)
    rgb = np.repeat(image[:, :, :1], 3, axis=2) if color == 1 else image[:, :, :3]
    if keep_alpha and image.shape[2] > color:
        return np.concatenate([rgb, image[:, :, color:]], axis=2)
    return np.ascontiguousarray(rgb)


def decode_raw(path: str | os.PathLike) -> np.ndarray:
    """Decodes a file as stored (any bit depth, 1 to 4 channels), channels in RGB(A) order."""
    path = Path(path)
    if not path.is_file():
        raise ImageReadError(f"{path}: no such image file")
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError as error:
        raise ImageReadError(f"{path}: cannot read ({error.strerror})") from error
    # JPEGs (no alpha) are decoded with their EXIF orientation applied; IMREAD_UNCHANGED keeps
    # the channels and depth of the others but ignores EXIF: their orientation is applied below.
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
    if image.ndim == 3 and image.shape[2] in _SWAP_RED_BLUE:
        image = cv2.cvtColor(image, _SWAP_RED_BLUE[image.shape[2]])
    if is_jpeg:
        return image
    transpose, turns, flip = _ORIENTATIONS.get(_exif_orientation(data), (False, 0, False))
    image = np.rot90(image.swapaxes(0, 1) if transpose else image, turns)
    return np.ascontiguousarray(image[:, ::-1] if flip else image)


#: EXIF orientation -> (transpose, quarter turns counterclockwise, left-right flip), in order.
_ORIENTATIONS = {2: (False, 0, True), 3: (False, 2, False), 4: (False, 2, True),
                 5: (True, 0, False), 6: (False, 3, False), 7: (True, 2, False),
                 8: (False, 1, False)}  # fmt: skip


def _exif_orientation(data: np.ndarray) -> int:
    """The EXIF orientation of a PNG (Pillow would decode its pixels first), TIFF or WebP."""
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
        return int(exif.get(0x0112, 1))
    except Exception:  # no EXIF or a malformed one: nothing to turn
        return 1


def _png_chunk(data: np.ndarray, kind: bytes) -> bytes:
    offset = 8
    while offset + 8 <= data.size:
        length = int.from_bytes(data[offset : offset + 4].tobytes(), "big")
        if data[offset + 4 : offset + 8].tobytes() == kind:
            return data[offset + 8 : offset + 8 + length].tobytes()
        offset += 12 + length
    return b""


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Reads an image file as ``HxWx3`` RGB uint8; :class:`ImageReadError` if it cannot."""
    return to_rgb_uint8(decode_raw(path))


def write_image(path: str | os.PathLike, image: np.ndarray, copy: bool = True) -> Path:
    """Writes an RGB(A) or gray uint8/uint16 image atomically, in the format of the extension;
    ``copy=False`` turns a contiguous ``image`` to BGR(A) in place (one the caller is done with)."""
    path = Path(path)
    image = np.asarray(image)
    code = _SWAP_RED_BLUE.get(image.shape[2]) if image.ndim == 3 else None
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
    """The image files under a folder, recursively, sorted (``what`` names it in errors)."""
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
    """A batch's (input, output) ``jobs``, ``notices`` of skipped inputs and one-line ``errors``."""

    jobs: list[tuple[Path, Path]] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _collect_inputs(inputs: list[str | os.PathLike]) -> tuple[list[tuple[Path, Path]], list[str]]:
    """``(path, name relative to its input)`` of each image once; an error per bad input."""
    files, errors = {}, []
    for item in map(Path, inputs):
        try:
            if item.is_dir():
                found = [(p, p.relative_to(item)) for p in list_images(item, "input folder")]
            elif item.exists():
                found = [(item, Path(item.name))]
            else:
                raise SRKerasError(f"input '{item}' does not exist")
        except SRKerasError as error:
            errors.append(str(error))
            continue
        for path, relative in found:
            files.setdefault(path.resolve(), (path, relative))
    return list(files.values()), errors


#: Names this project gives its outputs: ``<stem>_x<scale>.png`` or ``<name>_x<scale>.png``.
_OUTPUT_NAME = re.compile(r"(.+)_x\d+\.png")


def plan_outputs(inputs: list, out_dir, scale: int, overwrite: bool = False) -> OutputPlan:
    """Names each image's output, ``out_dir/<sub-folder>/<stem>_x<scale>.png``, before any work.

    Inputs sharing a stem keep their extension (``x.jpg_x4.png``) where that is unique, else the
    second is an error, as is an output that is an input or a folder. Existing outputs are skipped
    (a rerun resumes) unless ``overwrite``; so are earlier outputs among the inputs (``a_x4.png``
    beside ``a.png``), always."""
    files, errors = _collect_inputs(inputs)
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


def _without_earlier_outputs(files, out_dir: Path) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """The inputs to run, and those that are earlier outputs of other inputs."""
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

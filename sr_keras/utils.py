"""Small shared helpers: atomic file writes."""

from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes a text file via a temp file in the same folder and a rename: never half-written."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Writes bytes via a temp file in the same folder and a rename: never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temp_name, 0o666 & ~_umask())  # mkstemp makes 0600 files: use the usual mode
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


def machine_description() -> str:
    """The machine as one line (CPU model, cores, OS), for result tables."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as file:
            for line in file:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def update_markdown_section(path: str | os.PathLike, heading: str, body: str) -> Path:
    """Replaces (or appends) the ``## heading`` section of a Markdown file, atomically.

    Lets several benchmark scripts share one ``results/benchmarks.md``.
    """
    path = Path(path)
    text = path.read_text(encoding="utf-8") if path.is_file() else "# Benchmarks\n"
    lines = text.rstrip("\n").split("\n")
    marker = f"## {heading}"
    section = [marker, "", *body.rstrip("\n").split("\n")]
    if marker in lines:
        start = lines.index(marker)
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        trailing = [""] if end < len(lines) else []
        lines = lines[:start] + section + trailing + lines[end:]
    else:
        lines = lines + ["", *section]
    return atomic_write_text(path, "\n".join(lines) + "\n")


def project_root() -> Path:
    """The repository root (the folder holding ``sr_keras/``, ``results/``, ``notebooks/``).

    Notebooks and scripts resolve paths from here, not from their working directory.
    """
    return Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository (Set5, Set14, BSDS500), if this machine has it."""
    return project_root().parent / "shared" / "data"

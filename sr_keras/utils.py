"""Small shared helpers: the user-error type, atomic writes and the rules for output paths."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import sys
import tempfile
from pathlib import Path

#: The command-line flag that lets a command replace existing outputs.
OVERWRITE_FLAG = "--overwrite"


class SRKerasError(Exception):
    """An error caused by the user's input; the CLI prints its message without a traceback."""


class OutputFolderError(SRKerasError, OSError):
    """An output folder that cannot be created or written to (also an ``OSError``)."""


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """:func:`atomic_write_bytes` of UTF-8 text."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike, data) -> Path:
    """Writes bytes (any buffer) to a temp file beside ``path``, then renames it over ``path``."""
    path = Path(path)
    _make_folder(path.parent)
    handle, temp_name = temp_beside(path)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(temp_name, 0o666 & ~mask)  # mkstemp makes 0600 files: use the usual mode
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yields a path to write; if the block succeeds, it replaces ``path`` (file or folder)."""
    path = Path(path)
    staging = Path(temp_beside(path, tempfile.mkdtemp))
    try:
        yield staging / path.name
        if path.is_dir():
            os.replace(path, staging / "previous")
        os.replace(staging / path.name, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputFolderError(
            f"cannot create output folder '{folder}' ({error.strerror or error})"
        ) from error


def temp_beside(path: Path, make=tempfile.mkstemp):
    """``make`` (``mkstemp`` or ``mkdtemp``) beside ``path``: ``.<name>.<8 characters>.tmp``."""
    try:
        return make(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise OutputFolderError(
            f"cannot write into folder '{path.parent}' ({error.strerror or error}); "
            "choose another output or fix its permissions"
        ) from error


def ensure_writable_folder(folder: str | os.PathLike) -> Path:
    """Creates a folder if needed and checks that it is writable (else OutputFolderError)."""
    folder = Path(folder)
    _make_folder(folder)
    handle, name = temp_beside(folder / "sr-keras-write-test")
    os.close(handle)
    os.unlink(name)
    return folder


def remove_stale_temp_files(path: str | os.PathLike) -> list[Path]:
    """Removes (and returns) what an interrupted atomic write of ``path`` left beside it, files
    or folders named ``.<name>.<8 characters>.tmp``, never anything else."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    removed = [item for item in path.parent.glob(".*.tmp") if pattern.fullmatch(item.name)]
    for item in removed:
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)
    return removed


def _same_path(first: Path, second: Path) -> bool:
    with contextlib.suppress(OSError):
        if first.exists() and second.exists():
            return os.path.samefile(first, second)
    return first.resolve() == second.resolve()


def check_output(path, overwrite: bool = False, inputs=()) -> Path:
    """``path`` if it is no input nor folder, and new or ``overwrite``; else SRKerasError."""
    path = Path(path)
    for source in inputs:
        if _same_path(path, Path(source)):
            raise SRKerasError(f"output '{path}' is the input '{source}'; write elsewhere")
    if path.is_dir():
        raise SRKerasError(f"output '{path}' is a folder; give a file path")
    if path.exists() and not overwrite:
        raise SRKerasError(f"output '{path}' exists (use {OVERWRITE_FLAG} to replace it)")
    return path


@contextlib.contextmanager
def quiet_native_stderr():
    """Hides what native libraries write to stderr while the block runs, unless it fails."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def available_memory() -> int:
    """Bytes a new allocation can get: the least of MemAvailable, cgroup and ``ulimit -v`` room."""
    candidates = [_meminfo_available(), _cgroup_available(), _address_space_available()]
    return min((value for value in candidates if value is not None), default=2**63 - 1)


def _meminfo_available() -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/meminfo") as file:
        lines = [line.split() for line in file if line.startswith("MemAvailable:")]
        return int(lines[0][1]) * 1024
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _cgroup_available(root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """The cgroup (v2 or v1) memory limit less usage, inactive file cache free; None: no limit."""
    layouts = (
        (root, "memory.max", "memory.current", "inactive_file"),
        (root / "memory", "memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file"),
    )
    for folder, limit_name, usage_name, inactive_name in layouts:
        try:
            limit = (folder / limit_name).read_text().strip()
            if limit == "max" or int(limit) >= 2**60:  # v1 writes "no limit" as a huge number
                return None
            usage = int((folder / usage_name).read_text())
            stat = dict(line.split() for line in (folder / "memory.stat").read_text().splitlines())
            return max(int(limit) - usage + int(stat.get(inactive_name, 0)), 0)
        except (OSError, ValueError):
            continue
    return None


def _address_space_available() -> int | None:
    try:
        import resource

        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
        with open("/proc/self/status", encoding="ascii") as file:
            size = next(int(line.split()[1]) * 1024 for line in file if line.startswith("VmSize:"))
        return max(limit - size, 0)
    except (ImportError, OSError, ValueError, StopIteration):
        return None


def machine_description() -> str:
    """The machine as one line (CPU model, cores, OS), for result tables."""
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as file:
        names = (line.split(":", 1)[1].strip() for line in file if line.startswith("model name"))
        cpu = next(names, cpu)
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def project_root() -> Path:
    """The repository root (the folder holding ``sr_keras/``, ``results/``, ``notebooks/``)."""
    return Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """``../shared/data`` beside the repository (Set5, Set14, BSDS500), if this machine has it."""
    return project_root().parent / "shared" / "data"

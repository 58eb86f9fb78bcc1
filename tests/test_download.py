"""Tests for sr_keras.download against a local HTTP server serving fabricated DIV2K archives."""

from __future__ import annotations

import argparse
import http.server
import io
import re
import struct
import threading
import zipfile
import zlib
from pathlib import Path

import pytest

from sr_keras import download

SCALE = 4
TRAIN_IDS = (1, 2, 3)
VALID_IDS = (801, 802)
SUBSET_IDS = {"train": TRAIN_IDS, "valid": VALID_IDS}


def _png_bytes(width: int, height: int, seed: int) -> bytes:
    """Returns a valid RGB PNG whose pixels depend on ``seed``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes((seed * 31 + row * 7 + column) % 256 for column in range(width * 3))
        for row in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _make_archives() -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Builds DIV2K-like archives in memory.

    Returns:
        The archives by name, and the expected file bytes by path relative to the data root.
    """
    archives: dict[str, bytes] = {}
    expected_files: dict[str, bytes] = {}
    for subset, image_ids in SUBSET_IDS.items():
        for kind in ("HR", "LR"):
            if kind == "HR":
                name = f"DIV2K_{subset}_HR.zip"
                folders = [f"DIV2K_{subset}_HR/"]
                members = {
                    f"DIV2K_{subset}_HR/{image_id:04d}.png": _png_bytes(8, 8, image_id)
                    for image_id in image_ids
                }
            else:
                name = f"DIV2K_{subset}_LR_bicubic_X{SCALE}.zip"
                folders = [f"DIV2K_{subset}_LR_bicubic/", f"DIV2K_{subset}_LR_bicubic/X{SCALE}/"]
                members = {
                    f"DIV2K_{subset}_LR_bicubic/X{SCALE}/{image_id:04d}x{SCALE}.png": _png_bytes(
                        2, 2, image_id + 1000
                    )
                    for image_id in image_ids
                }
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for folder in folders:
                    archive.writestr(folder, b"")
                for member_name, data in members.items():
                    archive.writestr(member_name, data)
            archives[name] = buffer.getvalue()
            expected_files.update(members)
    return archives, expected_files


ARCHIVES, EXPECTED_FILES = _make_archives()


class ArchiveServer:
    """A threaded HTTP server that serves archives and supports ``Range`` requests.

    Attributes:
        archives: Bytes served per archive name (may be replaced by a test).
        requests: ``(path, range header or None)`` for every GET received.
        ignore_range: If True, answer every request with the whole file and status 200.
        drop_after: If set, close the connection after this many body bytes while announcing
            the full length (simulates a network failure).
    """

    def __init__(self, archives: dict[str, bytes]) -> None:
        self.archives = dict(archives)
        self.requests: list[tuple[str, str | None]] = []
        self.ignore_range = False
        self.drop_after: int | None = None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                range_header = self.headers.get("Range")
                server.requests.append((self.path, range_header))
                data = server.archives.get(self.path.lstrip("/"))
                if data is None:
                    self.send_error(404)
                    return
                total = len(data)
                match = re.fullmatch(r"bytes=(\d+)-(\d*)", range_header or "")
                if match and not server.ignore_range:
                    first = int(match.group(1))
                    last = int(match.group(2)) if match.group(2) else total - 1
                    if first >= total:
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{total}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    last = min(last, total - 1)
                    body = data[first : last + 1]
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {first}-{last}/{total}")
                else:
                    body = data
                    self.send_response(200)
                self.send_header("Content-Type", "application/zip")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if server.drop_after is not None:
                    body = body[: server.drop_after]
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def server():
    archive_server = ArchiveServer(ARCHIVES)
    yield archive_server
    archive_server.close()


def _download(root: Path, server: ArchiveServer, **keywords) -> list[Path]:
    keywords.setdefault("progress", False)
    return download.download_div2k(root, scale=SCALE, base_url=server.base_url, **keywords)


def _files_under(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in root.rglob("*.png")
        if path.is_file()
    }


def _leftovers(root: Path) -> list[str]:
    """Names in root other than the official folders (temporary folders, downloads)."""
    return sorted(path.name for path in root.iterdir() if not path.name.startswith("DIV2K_"))


def test_full_download_gives_official_layout_and_bytes(tmp_path, server):
    root = tmp_path / "DIV2K"
    folders = _download(root, server, progress=True)

    assert folders == [
        root / "DIV2K_train_HR",
        root / "DIV2K_train_LR_bicubic" / "X4",
        root / "DIV2K_valid_HR",
        root / "DIV2K_valid_LR_bicubic" / "X4",
    ]
    assert (root / "DIV2K_train_HR" / "0001.png").is_file()
    assert (root / "DIV2K_train_LR_bicubic" / "X4" / "0001x4.png").is_file()
    assert (root / "DIV2K_valid_HR" / "0801.png").is_file()
    assert (root / "DIV2K_valid_LR_bicubic" / "X4" / "0802x4.png").is_file()
    assert _files_under(root) == EXPECTED_FILES
    for folder in folders:
        assert (folder / download.COMPLETE_MARKER_NAME).is_file()
    # Archives are deleted (and the empty downloads folder too); no temporary folder is left.
    assert _leftovers(root) == []
    assert sorted(path for path, _ in server.requests) == sorted(f"/{name}" for name in ARCHIVES)
    assert all(range_header is None for _, range_header in server.requests)


def test_keep_archives_and_subset_selection(tmp_path, server):
    root = tmp_path / "DIV2K"
    folders = _download(root, server, subsets=["valid"], include_hr=False, keep_archives=True)

    assert folders == [root / "DIV2K_valid_LR_bicubic" / "X4"]
    assert server.requests == [(f"/DIV2K_valid_LR_bicubic_X{SCALE}.zip", None)]
    kept = root / "downloads" / f"DIV2K_valid_LR_bicubic_X{SCALE}.zip"
    assert kept.read_bytes() == ARCHIVES[kept.name]
    assert not (root / "DIV2K_valid_HR").exists()
    assert not (root / "DIV2K_train_HR").exists()


def test_second_call_skips_without_requests(tmp_path, server):
    root = tmp_path / "DIV2K"
    first = _download(root, server)
    request_count = len(server.requests)
    assert request_count == len(ARCHIVES)

    second = _download(root, server)

    assert second == first
    assert len(server.requests) == request_count
    assert _files_under(root) == EXPECTED_FILES


def test_folder_with_expected_image_count_is_skipped(tmp_path, server, monkeypatch):
    root = tmp_path / "DIV2K"
    hand_extracted = root / "DIV2K_valid_HR"
    hand_extracted.mkdir(parents=True)
    for image_id in VALID_IDS:
        (hand_extracted / f"{image_id:04d}.png").write_bytes(b"kept")
    monkeypatch.setitem(download.EXPECTED_IMAGE_COUNTS, "valid", len(VALID_IDS))

    _download(root, server, subsets=("valid",), include_lr=False)

    assert server.requests == []
    assert (hand_extracted / "0801.png").read_bytes() == b"kept"
    assert (hand_extracted / download.COMPLETE_MARKER_NAME).is_file()


def test_incomplete_folder_without_marker_is_replaced(tmp_path, server):
    root = tmp_path / "DIV2K"
    stale = root / "DIV2K_valid_HR"
    stale.mkdir(parents=True)
    (stale / "0801.png").write_bytes(b"half written")

    _download(root, server, subsets=("valid",), include_lr=False)

    assert len(server.requests) == 1
    assert (stale / "0801.png").read_bytes() == EXPECTED_FILES["DIV2K_valid_HR/0801.png"]


def test_resume_sends_range_and_completes(tmp_path, server):
    root = tmp_path / "DIV2K"
    name = "DIV2K_train_HR.zip"
    data = ARCHIVES[name]
    half = len(data) // 2
    part = root / "downloads" / f"{name}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data[:half])

    _download(root, server, subsets=("train",), include_lr=False, keep_archives=True)

    assert server.requests == [(f"/{name}", f"bytes={half}-")]
    assert (root / "downloads" / name).read_bytes() == data
    assert not part.exists()
    assert _files_under(root) == {
        path: value for path, value in EXPECTED_FILES.items() if path.startswith("DIV2K_train_HR/")
    }


def test_resume_of_complete_part_uses_416(tmp_path, server):
    root = tmp_path / "DIV2K"
    name = "DIV2K_valid_HR.zip"
    part = root / "downloads" / f"{name}.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(ARCHIVES[name])

    _download(root, server, subsets=("valid",), include_lr=False)

    assert server.requests == [(f"/{name}", f"bytes={len(ARCHIVES[name])}-")]
    assert (root / "DIV2K_valid_HR" / "0801.png").read_bytes() == EXPECTED_FILES[
        "DIV2K_valid_HR/0801.png"
    ]


def test_server_ignoring_range_restarts_from_zero(tmp_path, server):
    root = tmp_path / "DIV2K"
    name = "DIV2K_train_HR.zip"
    data = ARCHIVES[name]
    part = root / "downloads" / f"{name}.part"
    part.parent.mkdir(parents=True)
    # Garbage of half the length: appending to it would give a corrupt archive.
    part.write_bytes(b"\xff" * (len(data) // 2))
    server.ignore_range = True

    _download(root, server, subsets=("train",), include_lr=False, keep_archives=True)

    assert server.requests == [(f"/{name}", f"bytes={len(data) // 2}-")]
    assert (root / "downloads" / name).read_bytes() == data
    assert (root / "DIV2K_train_HR" / "0002.png").read_bytes() == EXPECTED_FILES[
        "DIV2K_train_HR/0002.png"
    ]


def test_interrupted_transfer_keeps_part_and_resumes_on_rerun(tmp_path, server):
    root = tmp_path / "DIV2K"
    name = "DIV2K_valid_HR.zip"
    data = ARCHIVES[name]
    server.drop_after = 100

    with pytest.raises(download.DownloadError, match="re-run"):
        _download(root, server, subsets=("valid",), include_lr=False)

    part = root / "downloads" / f"{name}.part"
    assert part.read_bytes() == data[:100]
    assert not (root / "DIV2K_valid_HR").exists()

    server.drop_after = None
    _download(root, server, subsets=("valid",), include_lr=False)

    assert server.requests[-1] == (f"/{name}", "bytes=100-")
    assert not part.exists()
    assert (root / "DIV2K_valid_HR" / "0802.png").read_bytes() == EXPECTED_FILES[
        "DIV2K_valid_HR/0802.png"
    ]


def _truncated(data: bytes) -> bytes:
    return data[: len(data) * 2 // 3]


def _crc_broken(data: bytes) -> bytes:
    # Flip one byte inside the first member's compressed data: the central directory still
    # parses, but testzip() reports a CRC failure.
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = next(info for info in archive.infolist() if info.file_size > 0)
    header_length = 30 + len(info.filename.encode()) + len(info.extra)
    position = info.header_offset + header_length + info.compress_size // 2
    broken = bytearray(data)
    broken[position] ^= 0xFF
    return bytes(broken)


@pytest.mark.parametrize("corrupt", [_truncated, _crc_broken], ids=["truncated", "crc"])
def test_corrupt_archive_raises_and_leaves_nothing(tmp_path, server, corrupt):
    root = tmp_path / "DIV2K"
    name = "DIV2K_train_HR.zip"
    server.archives[name] = corrupt(ARCHIVES[name])

    with pytest.raises(download.DownloadError, match=re.escape(name)) as caught:
        _download(root, server, subsets=("train",), include_lr=False)

    assert "re-run" in str(caught.value)
    assert not (root / "DIV2K_train_HR").exists()
    assert not (root / "downloads" / f"{name}.part").exists()
    assert not (root / "downloads" / name).exists()
    assert [path.name for path in root.iterdir() if path.name != "downloads"] == []


def test_missing_archive_raises_download_error_naming_url(tmp_path, server):
    del server.archives["DIV2K_valid_HR.zip"]

    with pytest.raises(download.DownloadError, match=r"DIV2K_valid_HR\.zip.*404"):
        _download(tmp_path, server, subsets=("valid",), include_lr=False)


def test_unreachable_server_raises_download_error(tmp_path, server):
    url = server.base_url
    server.close()

    with pytest.raises(download.DownloadError, match="resumes") as caught:
        download.download_div2k(tmp_path, subsets="valid", base_url=url, progress=False)
    assert url in str(caught.value)


@pytest.mark.parametrize(
    ("keywords", "argument"),
    [
        ({"scale": 5}, "scale"),
        ({"scale": 0}, "scale"),
        ({"scale": "4"}, "scale"),
        ({"subsets": ("train", "test")}, "subsets"),
        ({"subsets": "training"}, "subsets"),
        ({"subsets": ()}, "subsets"),
        ({"include_hr": False, "include_lr": False}, "include_hr"),
    ],
)
def test_bad_arguments_raise_value_error(tmp_path, keywords, argument):
    with pytest.raises(ValueError, match=argument):
        download.download_div2k(tmp_path / "DIV2K", progress=False, **keywords)
    assert not (tmp_path / "DIV2K").exists()


def _cli_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sr-keras")
    sub = parser.add_subparsers(dest="command")
    download_parser = sub.add_parser("download")
    download_parser.add_argument("dataset", choices=["div2k"])
    download.add_arguments(download_parser)
    return parser


def test_argparse_defaults():
    args = _cli_parser().parse_args(["download", "div2k"])

    assert args.root == "data/DIV2K"
    assert args.scale == 4
    assert args.subset == ["train", "valid"]
    assert not args.hr_only and not args.lr_only and not args.keep_archives
    assert args.base_url == download.DIV2K_BASE_URL


@pytest.mark.parametrize(
    "extra",
    [["--hr-only", "--lr-only"], ["--scale", "5"], ["--subset", "train,test"]],
)
def test_argparse_rejects_bad_options(extra, capsys):
    with pytest.raises(SystemExit):
        _cli_parser().parse_args(["download", "div2k", *extra])


def test_argparse_round_trip_downloads(tmp_path, server, capsys):
    root = tmp_path / "DIV2K"
    args = _cli_parser().parse_args(
        [
            "download",
            "div2k",
            "--root",
            str(root),
            "--scale",
            "4",
            "--subset",
            "valid",
            "--lr-only",
            "--keep-archives",
            "--base-url",
            server.base_url,
            "--no-progress",
        ]
    )

    assert download.run_from_args(args) == 0

    assert server.requests == [(f"/DIV2K_valid_LR_bicubic_X{SCALE}.zip", None)]
    assert (root / "downloads" / f"DIV2K_valid_LR_bicubic_X{SCALE}.zip").is_file()
    assert not (root / "DIV2K_valid_HR").exists()
    output = capsys.readouterr().out
    assert str(root.resolve()) in output
    assert "DIV2K_valid_LR_bicubic" in output


def test_run_from_args_reports_failure(tmp_path, server, capsys):
    server.archives["DIV2K_valid_HR.zip"] = b"not a zip archive"
    args = _cli_parser().parse_args(
        [
            "download",
            "div2k",
            "--root",
            str(tmp_path),
            "--subset",
            "valid",
            "--hr-only",
            "--base-url",
            server.base_url,
            "--no-progress",
        ]
    )

    assert download.run_from_args(args) == 1
    assert "DIV2K_valid_HR.zip" in capsys.readouterr().err

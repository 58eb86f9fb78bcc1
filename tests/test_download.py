"""Tests for sr_keras.download against a loopback HTTP server serving made-up DIV2K archives."""

import argparse
import hashlib
import http.server
import io
import logging
import re
import shutil
import threading
import zipfile

import pooch
import pytest

from sr_keras import download

IDS = {"train": (1, 2, 3), "valid": (801, 802)}


def _make_archives():
    """Returns the zip bytes by archive name and the bytes of every file by path under the root."""
    archives, files = {}, {}
    for subset, ids in IDS.items():
        for name, folder, suffix in (
            (f"DIV2K_{subset}_HR.zip", f"DIV2K_{subset}_HR", ""),
            (f"DIV2K_{subset}_LR_bicubic_X4.zip", f"DIV2K_{subset}_LR_bicubic/X4", "x4"),
        ):
            members = {f"{folder}/{i:04d}{suffix}.png": f"{folder} {i}".encode() for i in ids}
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
                for path, data in members.items():
                    archive.writestr(path, data)
            archives[name], files = buffer.getvalue(), files | members
    return archives, files


ARCHIVES, FILES = _make_archives()


class Server:
    """Serves ``archives`` on 127.0.0.1; ``drop_after`` cuts each body short (a network failure)."""

    def __init__(self):
        self.archives, self.requests, self.drop_after = dict(ARCHIVES), [], None
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append(self.path.lstrip("/"))
                data = server.archives.get(self.path.lstrip("/"))
                if data is None:
                    return self.send_error(404)
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: server.drop_after])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    sha256 = {name: hashlib.sha256(data).hexdigest() for name, data in ARCHIVES.items()}
    monkeypatch.setattr(download, "DIV2K_SHA256", sha256)
    monkeypatch.setattr(download, "EXPECTED_IMAGE_COUNTS", {k: len(v) for k, v in IDS.items()})
    running = Server()
    yield running
    running.close()


@pytest.fixture
def status_lines():
    """The status lines logged through pooch's logger (its handler writes to the real stderr)."""
    lines, handler = [], logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())
    pooch.get_logger().addHandler(handler)
    yield lines
    pooch.get_logger().removeHandler(handler)


def _download(root, server, **keywords):
    keywords.setdefault("progress", False)
    return download.download_div2k(root, 4, base_url=server.url, **keywords)


def _tree(root):
    """Every file under root (hidden ones included) with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _pngs(root):
    return {path: data for path, data in _tree(root).items() if path.endswith(".png")}


def test_download_gives_official_layout_and_nothing_else(tmp_path, server, capsys, status_lines):
    root = tmp_path / "DIV2K"
    folders = _download(root, server, progress=True)

    hr, lr = (
        ["DIV2K_train_HR", "DIV2K_valid_HR"],
        ["DIV2K_train_LR_bicubic", "DIV2K_valid_LR_bicubic"],
    )
    assert folders == [root / hr[0], root / lr[0] / "X4", root / hr[1], root / lr[1] / "X4"]
    assert _pngs(root) == FILES
    assert all((folder / download.COMPLETE_MARKER_NAME).is_file() for folder in folders)
    names = sorted(path.name for path in root.iterdir())  # No hidden work folder left.
    assert names == sorted(hr + lr)
    assert sorted(server.requests) == sorted(ARCHIVES)
    assert "100%" in capsys.readouterr().err  # pooch's progress bar.
    assert f"Extracting DIV2K_valid_HR.zip into {root / 'DIV2K_valid_HR'}" in status_lines


def test_rerun_and_hand_extracted_folders_are_skipped_untouched(tmp_path, server):
    root = tmp_path / "DIV2K"
    mine = root / "DIV2K_valid_HR"
    mine.mkdir(parents=True)
    for i in IDS["valid"]:
        (mine / f"{i:04d}.png").write_bytes(b"mine")

    first = _download(root, server)
    assert "DIV2K_valid_HR.zip" not in server.requests
    assert _tree(mine) == {"0801.png": b"mine", "0802.png": b"mine"}  # No marker added either.
    count = len(server.requests)

    assert _download(root, server) == first
    assert len(server.requests) == count == len(ARCHIVES) - 1


def test_incomplete_user_folder_is_never_replaced(tmp_path, server):
    mine = tmp_path / "DIV2K_train_HR"
    mine.mkdir()
    (mine / "0001.png").write_bytes(b"mine")

    with pytest.raises(download.DownloadError, match="holds 1 of 3 images.*move it away"):
        _download(tmp_path, server, include_lr=False)
    assert _tree(tmp_path) == {"DIV2K_train_HR/0001.png": b"mine"}
    assert server.requests == []


def test_network_failure_is_one_line_leaves_nothing_and_rerun_works(tmp_path, server):
    server.drop_after = 100

    with pytest.raises(download.DownloadError) as caught:
        _download(tmp_path, server, subsets="valid", include_lr=False)
    message = str(caught.value)
    assert f"{server.url}DIV2K_valid_HR.zip" in message and "re-run" in message
    assert "\n" not in message
    assert list(tmp_path.iterdir()) == []

    server.drop_after = None
    _download(tmp_path, server, subsets="valid", include_lr=False)
    assert _pngs(tmp_path) == {k: v for k, v in FILES.items() if k.startswith("DIV2K_valid_HR/")}


def test_corrupt_download_fails_its_hash_and_leaves_nothing(tmp_path, server):
    data = bytearray(ARCHIVES["DIV2K_train_HR.zip"])
    data[len(data) // 2] ^= 0xFF
    server.archives["DIV2K_train_HR.zip"] = bytes(data)

    with pytest.raises(download.DownloadError, match=r"DIV2K_train_HR\.zip.*SHA256.*re-run"):
        _download(tmp_path, server, subsets="train", include_lr=False)
    assert list(tmp_path.iterdir()) == []


def test_killed_run_leftovers_are_reused_then_removed(tmp_path, server):
    work = tmp_path / ".DIV2K_valid_HR.zip.partial"  # As a run killed while extracting leaves it.
    (work / "DIV2K_valid_HR").mkdir(parents=True)
    (work / "DIV2K_valid_HR" / "0801.png").write_bytes(b"half written")
    (work / "tmpk1lled").write_bytes(b"a download cut short")
    (work / "DIV2K_valid_HR.zip").write_bytes(ARCHIVES["DIV2K_valid_HR.zip"])

    _download(tmp_path, server, subsets="valid", include_lr=False)

    assert server.requests == []  # The complete archive (its hash checked) was reused.
    assert not work.exists()
    assert _pngs(tmp_path) == {k: v for k, v in FILES.items() if k.startswith("DIV2K_valid_HR/")}


def test_kept_archive_is_reused_and_a_damaged_one_is_reported_not_deleted(tmp_path, server):
    kept = tmp_path / "downloads" / "DIV2K_valid_LR_bicubic_X4.zip"
    folder = tmp_path / "DIV2K_valid_LR_bicubic" / "X4"
    _download(tmp_path, server, subsets="valid", include_hr=False, keep_archives=True)
    assert kept.read_bytes() == ARCHIVES[kept.name]

    shutil.rmtree(folder)
    _download(tmp_path, server, subsets="valid", include_hr=False)
    assert len(server.requests) == 1
    assert _pngs(tmp_path) == {k: v for k, v in FILES.items() if k.startswith(folder.parent.name)}

    shutil.rmtree(folder)
    kept.write_bytes(b"not a zip")
    with pytest.raises(download.DownloadError, match=re.escape(f"{kept} is damaged: delete it")):
        _download(tmp_path, server, subsets="valid", include_hr=False)
    assert kept.read_bytes() == b"not a zip"
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        "DIV2K_valid_LR_bicubic",
        "downloads",
    ]


def test_missing_archive_and_unreachable_server_name_the_url(tmp_path, server):
    del server.archives["DIV2K_valid_HR.zip"]
    with pytest.raises(download.DownloadError, match=r"404.*DIV2K_valid_HR\.zip.*--base-url"):
        _download(tmp_path, server, subsets="valid", include_lr=False)

    server.close()
    with pytest.raises(
        download.DownloadError, match=re.escape(f"from {server.url}DIV2K_valid_HR.zip")
    ):
        _download(tmp_path, server, subsets="valid", include_lr=False)


def test_official_hashes_cover_every_archive():
    names = {f"DIV2K_{subset}_HR.zip" for subset in download.DIV2K_SUBSETS}
    for scale in download.DIV2K_SCALES:
        names |= {f"DIV2K_{s}_LR_bicubic_X{scale}.zip" for s in download.DIV2K_SUBSETS}
    assert set(download.DIV2K_SHA256) == names
    assert all(len(bytes.fromhex(value)) == 32 for value in download.DIV2K_SHA256.values())


@pytest.mark.parametrize(
    "keywords",
    [{"scale": 5}, {"scale": True}, {"subsets": "train,test"}, {"subsets": ()}]
    + [{"include_hr": False, "include_lr": False}],
)
def test_bad_arguments_raise_value_error_before_any_write(tmp_path, keywords):
    with pytest.raises(ValueError, match=next(iter(keywords)).split("_")[0]):
        download.download_div2k(tmp_path / "DIV2K", progress=False, **keywords)
    assert not (tmp_path / "DIV2K").exists()


def _parse(*options):
    parser = argparse.ArgumentParser(prog="sr-keras download")
    parser.add_argument("dataset", choices=["div2k"])
    download.add_arguments(parser)
    return parser.parse_args(["div2k", *options])


def test_cli_options(tmp_path, server, capsys, status_lines):
    defaults = _parse()
    assert (defaults.root, defaults.scale, defaults.subset) == ("data/DIV2K", 4, ["train", "valid"])
    for bad in (["--hr-only", "--lr-only"], ["--scale", "5"], ["--subset", "train,test"]):
        with pytest.raises(SystemExit):
            _parse(*bad)
    assert "--subset: subsets: give one or more of" in capsys.readouterr().err

    options = ["--root", str(tmp_path), "--subset", "valid", "--lr-only", "--keep-archives"]
    assert download.run_from_args(_parse(*options, "--base-url", server.url, "--no-progress")) == 0
    out, err = capsys.readouterr()
    assert "DIV2K_valid_LR_bicubic" in out and "(2 images)" in out
    assert err == "" and status_lines == []  # --no-progress
    assert server.requests == ["DIV2K_valid_LR_bicubic_X4.zip"]
    assert (tmp_path / "downloads" / "DIV2K_valid_LR_bicubic_X4.zip").is_file()

    server.archives["DIV2K_valid_HR.zip"] = b"not the archive"
    options = ["--root", str(tmp_path), "--subset", "valid", "--base-url", server.url]
    assert download.run_from_args(_parse(*options, "--no-progress")) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: Could not get DIV2K_valid_HR.zip") and err.count("\n") == 1

"""Reading any image file as RGB uint8, listing folders, atomic writes."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from sr_keras import utils
from sr_keras.images import (
    ImageReadError,
    SRKerasError,
    decode_raw,
    list_images,
    read_image,
    to_rgb_uint8,
    write_image,
)


def _write_cv2(path, image):
    """Writes an array with OpenCV directly (BGR(A) order), independent of write_image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def test_rgb_round_trip_png(tmp_path, make_photo):
    image = make_photo(0, (20, 30))
    path = write_image(tmp_path / "a.png", image)
    assert path == tmp_path / "a.png"
    np.testing.assert_array_equal(read_image(path), image)
    # Channel order on disk is what any other reader expects (OpenCV reads BGR).
    np.testing.assert_array_equal(cv2.imread(str(path))[:, :, ::-1], image)


def test_grayscale_png_becomes_three_channels(tmp_path):
    gray = np.random.default_rng(0).integers(0, 256, (9, 11), dtype=np.uint8)
    path = _write_cv2(tmp_path / "gray.png", gray)
    assert decode_raw(path).shape == (9, 11)
    image = read_image(path)
    assert image.shape == (9, 11, 3) and image.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(image[:, :, channel], gray)


def test_rgba_alpha_is_dropped(tmp_path):
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (8, 10, 3), dtype=np.uint8)
    alpha = np.full((8, 10, 1), 17, np.uint8)
    path = write_image(tmp_path / "rgba.png", np.concatenate([rgb, alpha], axis=2))
    raw = decode_raw(path)
    assert raw.shape == (8, 10, 4)
    np.testing.assert_array_equal(raw[:, :, 3], 17)
    image = read_image(path)
    assert image.shape == (8, 10, 3)
    np.testing.assert_array_equal(image, rgb)


def test_16_bit_png_is_scaled_to_8_bit(tmp_path):
    values = np.array([[0, 257, 1000], [65535, 32896, 128]], dtype=np.uint16)
    rgb16 = np.stack([values, values // 2, values // 3], axis=2).astype(np.uint16)
    path = _write_cv2(tmp_path / "deep.png", rgb16[:, :, ::-1])
    assert decode_raw(path).dtype == np.uint16
    image = read_image(path)
    assert image.dtype == np.uint8
    np.testing.assert_array_equal(image, np.round(rgb16 / 257.0).astype(np.uint8))
    assert image[0, 1, 0] == 1 and image[1, 0, 0] == 255 and image[0, 2, 0] == 4


def test_to_rgb_uint8_conversions():
    gray_alpha = np.zeros((2, 2, 2), np.uint8)
    gray_alpha[..., 0], gray_alpha[..., 1] = 90, 200
    assert to_rgb_uint8(gray_alpha).shape == (2, 2, 3)
    assert (to_rgb_uint8(gray_alpha) == 90).all()
    kept = to_rgb_uint8(gray_alpha, keep_alpha=True)
    assert kept.shape == (2, 2, 4) and (kept[..., 3] == 200).all()
    floats = to_rgb_uint8(np.array([[0.0, 0.5, 1.0, 1.7]]))
    np.testing.assert_array_equal(floats[0, :, 0], [0, 128, 255, 255])
    with pytest.raises(ValueError, match="HxW"):
        to_rgb_uint8(np.zeros((2, 2, 5), np.uint8))


def test_unreadable_files(tmp_path):
    with pytest.raises(ImageReadError, match="no such image file"):
        read_image(tmp_path / "missing.png")
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n this is not an image")
    with pytest.raises(ImageReadError, match="corrupt.png"):
        read_image(corrupt)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageReadError, match="empty.jpg"):
        read_image(empty)
    assert issubclass(ImageReadError, SRKerasError)


def test_list_images_recursive_sorted_and_filtered(tmp_path):
    image = np.zeros((4, 4, 3), np.uint8)
    for name in ("b.png", "a/c.JPG", "a/deep/d.bmp", "e.jpeg"):
        write_image(tmp_path / name.lower(), image)
    (tmp_path / "a" / "c.jpg").rename(tmp_path / "a" / "c.JPG")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "folder.png").mkdir()  # a folder with an image extension is not an image
    paths = list_images(tmp_path)
    relative = [p.relative_to(tmp_path).as_posix() for p in paths]
    assert relative == ["a/c.JPG", "a/deep/d.bmp", "b.png", "e.jpeg"]


def test_list_images_missing_and_empty(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(SRKerasError, match="sr-keras download") as error:
        list_images(missing)
    assert str(missing) in str(error.value)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "readme.txt").write_text("x")
    with pytest.raises(SRKerasError, match="holds no image") as error:
        list_images(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(error.value)


def test_write_image_is_atomic_and_replaces(tmp_path):
    target = tmp_path / "sub" / "out.png"
    first = np.full((6, 6, 3), 10, np.uint8)
    second = np.full((8, 5, 3), 200, np.uint8)
    write_image(target, first)  # creates the parent folder
    write_image(target, second)
    np.testing.assert_array_equal(read_image(target), second)
    assert sorted(os.listdir(target.parent)) == ["out.png"]  # no temp file left


def test_write_image_failure_leaves_old_file_and_no_temp(tmp_path, monkeypatch):
    target = tmp_path / "out.png"
    original = np.full((6, 6, 3), 10, np.uint8)
    write_image(target, original)
    before = target.read_bytes()

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(utils.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_image(target, np.full((6, 6, 3), 99, np.uint8))
    monkeypatch.undo()
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["out.png"]

    with pytest.raises(SRKerasError, match="cannot encode"):
        write_image(tmp_path / "out.unknownext", original)
    assert os.listdir(tmp_path) == ["out.png"]


def test_atomic_write_text(tmp_path):
    path = utils.atomic_write_text(tmp_path / "deep" / "t.csv", "a,b\n1,2\n")
    assert path.read_text() == "a,b\n1,2\n"
    utils.atomic_write_text(path, "new")
    assert path.read_text() == "new"
    assert os.listdir(path.parent) == ["t.csv"]


def test_atomic_path_replaces_files_and_folders_only_on_success(tmp_path):
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "old.txt").write_text("old")
    with utils.atomic_path(folder) as staged:
        staged.mkdir()
        (staged / "new.txt").write_text("new")
    assert _names(folder) == ["new.txt"]
    with pytest.raises(RuntimeError), utils.atomic_path(folder) as staged:
        staged.mkdir()
        raise RuntimeError("converter failed")
    assert _names(folder) == ["new.txt"]
    assert sorted(os.listdir(tmp_path)) == ["export"]  # no staging folder left


def test_jpeg_exif_orientation_is_applied(tmp_path):
    """A phone photo stored sideways with EXIF orientation 6 reads upright."""
    from PIL import Image as PILImage

    from sr_keras.images import read_image

    stored = np.zeros((20, 40, 3), np.uint8)
    stored[:, :20] = 255  # left half white as stored
    path = tmp_path / "phone.jpg"
    image = PILImage.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    image.save(path, exif=exif, quality=95)
    upright = read_image(path)
    assert upright.shape == (40, 20, 3)
    assert upright[:20].mean() > 200 and upright[20:].mean() < 50  # white half now on top


def test_atomic_writes_get_the_usual_file_mode(tmp_path):
    from sr_keras.utils import atomic_write_text

    mask = os.umask(0o022)
    try:
        path = atomic_write_text(tmp_path / "table.csv", "a,b\n")
    finally:
        os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o644


# --- output rules shared by the batch commands ---------------------------------------------------


def _names(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_plan_outputs_into_the_input_folder_never_reads_earlier_outputs(tmp_path):
    from sr_keras.images import plan_outputs

    image = np.zeros((4, 4, 3), np.uint8)
    for name in ("a.png", "b.png", "c.png", "c_x2.png"):  # c_x2.png: from an earlier x2 run
        write_image(tmp_path / name, image)
    own = write_image(tmp_path / "b_x4.png", image)  # the user's own file, named like an output
    plan = plan_outputs([tmp_path], tmp_path, 4)
    assert plan.jobs == [(tmp_path / f"{stem}.png", tmp_path / f"{stem}_x4.png") for stem in "ac"]
    assert plan.errors == []
    assert plan.notices == [  # one line per file
        f"skipped {own}: exists (use --overwrite to replace)",
        f"skipped {tmp_path / 'c_x2.png'}: an earlier output (not read as an input)",
    ]
    write_image(tmp_path / "a_x4.png", image)  # as the first run would
    write_image(tmp_path / "c_x4.png", image)
    rerun = plan_outputs([tmp_path], tmp_path, 4)
    assert rerun.jobs == [] and rerun.errors == []  # nothing to do: no a_x4_x4.png
    assert len(rerun.notices) == 4
    overwrite = plan_outputs([tmp_path], tmp_path, 4, overwrite=True)
    assert [target.name for _, target in overwrite.jobs] == ["a_x4.png", "b_x4.png", "c_x4.png"]


def test_plan_outputs_names_are_unique_and_keep_sub_folders(tmp_path):
    from sr_keras.images import plan_outputs

    image = np.zeros((4, 4, 3), np.uint8)
    folder = tmp_path / "in"
    for name in ("x.png", "x.jpg", "sub/y.png", "z.png"):
        write_image(folder / name, image)
    other = write_image(tmp_path / "elsewhere" / "z.png", image)
    (tmp_path / "out" / "sub" / "y_x2.png").mkdir(parents=True)  # a folder in the way
    plan = plan_outputs([folder, other], tmp_path / "out", 2)
    targets = {path.relative_to(tmp_path).as_posix(): target.relative_to(tmp_path).as_posix()
               for path, target in plan.jobs}  # fmt: skip
    assert targets == {
        "in/x.jpg": "out/x.jpg_x2.png",
        "in/x.png": "out/x.png_x2.png",
        "in/z.png": "out/z_x2.png",
    }
    assert len(plan.errors) == 2
    assert "sub/y.png" in plan.errors[0] and "is a folder" in plan.errors[0]
    assert str(other) in plan.errors[1] and "writes the same output" in plan.errors[1]


def test_check_output_refuses_inputs_existing_files_and_folders(tmp_path):
    source = write_image(tmp_path / "in.png", np.zeros((2, 2, 3), np.uint8))
    for overwrite in (False, True):
        with pytest.raises(SRKerasError, match="is the input"):
            utils.check_output(tmp_path / "." / "in.png", overwrite, inputs=[source])
        with pytest.raises(SRKerasError, match="is a folder"):
            utils.check_output(tmp_path, overwrite)
    with pytest.raises(SRKerasError, match=r"exists \(use --overwrite to replace it\)"):
        utils.check_output(source)
    assert utils.check_output(source, overwrite=True) == source
    assert utils.check_output(tmp_path / "new.png") == tmp_path / "new.png"


def test_remove_stale_temp_files_removes_only_its_own(tmp_path):
    target = tmp_path / "a_x4.png"
    stale_file = tmp_path / ".a_x4.png.k2j_8x0q.tmp"  # mkstemp's 8 random characters
    stale_folder = tmp_path / ".a_x4.png.abcdefgh.tmp"  # a staging folder (export)
    stale_file.write_bytes(b"half")
    (stale_folder / "inner").mkdir(parents=True)
    kept = [".a_x4.png.notes.tmp", ".b_x4.png.k2j_8x0q.tmp", "a_x4.png.k2j_8x0q.tmp", "a_x4.png"]
    for name in kept:
        (tmp_path / name).write_bytes(b"user")
    assert sorted(utils.remove_stale_temp_files(target)) == sorted([stale_file, stale_folder])
    assert sorted(os.listdir(tmp_path)) == sorted(kept)


def test_unwritable_output_folder_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(utils.OutputFolderError, match=f"'{blocker / 'out'}'"):
        utils.ensure_writable_folder(blocker / "out")
    with pytest.raises(OSError, match="cannot create output folder"):  # also an OSError
        write_image(blocker / "out" / "a.png", np.zeros((2, 2, 3), np.uint8))
    assert utils.ensure_writable_folder(tmp_path / "new" / "deep").is_dir()
    assert os.listdir(tmp_path / "new" / "deep") == []  # the test file is gone


@pytest.mark.parametrize("orientation", range(1, 9))
def test_png_exif_orientation_is_applied(tmp_path, orientation):
    """A PNG with an EXIF orientation reads as Pillow's exif_transpose shows it."""
    from PIL import Image as PILImage
    from PIL import ImageOps

    stored = np.random.default_rng(orientation).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    path = tmp_path / "turned.png"
    image = PILImage.fromarray(stored)
    exif = image.getexif()
    exif[0x0112] = orientation
    image.save(path, exif=exif)
    with PILImage.open(path) as opened:
        expected = np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))
    assert expected.shape == ((5, 7, 3) if orientation < 5 else (7, 5, 3))
    np.testing.assert_array_equal(read_image(path), expected)


def test_gif_is_an_image(tmp_path):
    from PIL import Image as PILImage

    pixels = np.zeros((6, 8, 3), np.uint8)
    pixels[:, :4] = (200, 30, 10)
    PILImage.fromarray(pixels).save(tmp_path / "anim.gif")
    assert list_images(tmp_path) == [tmp_path / "anim.gif"]
    np.testing.assert_array_equal(read_image(tmp_path / "anim.gif"), pixels)


def test_write_image_without_copy_reorders_in_place(tmp_path, make_photo):
    image = make_photo(2, (6, 7))
    original = image.copy()
    write_image(tmp_path / "a.png", image, copy=False)  # large outputs: no second buffer
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), original)
    np.testing.assert_array_equal(image, original[:, :, ::-1])  # the caller's array, now BGR
    view = original[:, :4]  # not contiguous: copied, left alone
    write_image(tmp_path / "b.png", view, copy=False)
    np.testing.assert_array_equal(read_image(tmp_path / "b.png"), view)
    np.testing.assert_array_equal(view, make_photo(2, (6, 7))[:, :4])


def test_available_memory_counts_cgroup_limits(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "memory.max").write_text("1000000000\n")
    (v2 / "memory.current").write_text("600000000\n")
    (v2 / "memory.stat").write_text("anon 500000000\ninactive_file 100000000\n")
    assert utils._cgroup_available(v2) == 500_000_000  # the inactive file cache is reclaimable
    (v2 / "memory.max").write_text("max\n")
    assert utils._cgroup_available(v2) is None
    v1 = tmp_path / "v1" / "memory"
    v1.mkdir(parents=True)
    (v1 / "memory.limit_in_bytes").write_text("2000000000\n")
    (v1 / "memory.usage_in_bytes").write_text("1500000000\n")
    (v1 / "memory.stat").write_text("cache 0\ntotal_inactive_file 0\n")
    assert utils._cgroup_available(tmp_path / "v1") == 500_000_000
    assert utils._cgroup_available(tmp_path / "nothing") is None


def test_available_memory_counts_ulimit_v():
    """Under ``ulimit -v`` (a memory cap), what is left of the address space counts."""
    import resource
    import subprocess
    import sys

    cap = 3 * 2**30

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    script = "from sr_keras.utils import available_memory; print(available_memory())"
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, preexec_fn=limit, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert 0 < int(result.stdout) < cap

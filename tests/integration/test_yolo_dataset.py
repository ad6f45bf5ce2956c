"""The YOLO export is a dataset Ultralytics accepts as it is: its own dataset check and loader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import PIL.Image
import pytest
import torch

from tests.support.client_fixtures import CLASSES, GOOD, run_fake
from tests.support.fake_service import FakeServer

# Library functions Ultralytics replaces process-wide when imported (its PIL.Image.open, for one,
# raises ModuleNotFoundError for non-images); restored after the test so no other test sees them.
_PATCHED_ON_IMPORT = ((PIL.Image, "open"), (torch, "load"), (torch, "save"), (cv2, "imread"), (cv2, "imwrite"))


@pytest.fixture
def ultralytics(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Ultralytics with its settings in a temporary folder and no font download (no internet here)."""
    originals = [(owner, name, getattr(owner, name)) for owner, name in _PATCHED_ON_IMPORT]
    monkeypatch.setenv("YOLO_CONFIG_DIR", str(tmp_path_factory.mktemp("ultralytics")))
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    try:
        data_utils = pytest.importorskip("ultralytics.data.utils")
        monkeypatch.setattr(data_utils, "check_font", lambda *args, **kwargs: None)
        yield data_utils
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)


def test_yolo_export_passes_ultralytics_dataset_check_and_loads_every_label(
    ultralytics, small_folder: Path, tmp_path: Path, fake_server: Callable[..., FakeServer]
) -> None:
    from ultralytics.data.dataset import YOLODataset

    out = tmp_path / "out"
    run_fake(small_folder, out, fake_server(), formats=("yolo",), draw=False)
    data = ultralytics.check_det_dataset(str(out / "yolo" / "data.yaml"), autodownload=False)
    assert data["names"] == dict(enumerate(CLASSES)) and data["nc"] == len(CLASSES)
    assert Path(data["train"]) == Path(data["val"]) == (out / "yolo" / "images").resolve()
    dataset = YOLODataset(img_path=data["train"], data=data, task="detect", augment=False)
    assert sorted(Path(label["im_file"]).name for label in dataset.labels) == sorted(k.replace("/", "__") for k in GOOD)
    boxes = {Path(label["im_file"]).name: label["cls"].ravel().tolist() for label in dataset.labels}
    assert boxes["a__b__img4.png"] == [0.0, 1.0]

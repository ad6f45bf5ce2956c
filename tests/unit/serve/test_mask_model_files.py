"""The mask model is part of the served model: in the archive, in its cache key, named by gdino-serve."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gdino_serve import download_weights, serve
from gdino_serve.model_archive import MASK_FOLDER, HuggingFaceModel, archive_files, with_mask_model
from gdino_serve.model_store_cache import store_key

pytestmark = pytest.mark.masks


def folder(root: Path, name: str, weights: bytes = b"weights") -> Path:
    path = root / name
    path.mkdir()
    (path / "config.json").write_text('{"model_type": "sam2_video"}')
    (path / "preprocessor_config.json").write_text("{}")
    (path / "model.safetensors").write_bytes(weights)
    return path


def test_the_mask_folder_goes_into_the_archive_whole_and_is_named_in_the_handler_settings(tmp_path: Path) -> None:
    detector = HuggingFaceModel(folder(tmp_path, "gdino"))
    model = with_mask_model(detector, folder(tmp_path, "sam"))
    files = archive_files(model)
    for name in ("config.json", "preprocessor_config.json", "model.safetensors"):
        assert files[f"{MASK_FOLDER}/{name}"] == tmp_path / "sam" / name
    assert model.weights == detector.weights and "hf_model/config.json" in files
    assert model.handler_settings() == {
        "backend": "transformers",
        "model_config": "hf_model",
        "mask_model": MASK_FOLDER,
    }
    assert with_mask_model(detector, None) is detector


def test_the_cache_key_changes_with_the_mask_models_weights(tmp_path: Path) -> None:
    detector = HuggingFaceModel(folder(tmp_path, "gdino"))
    sam = folder(tmp_path, "sam")
    yaml = {"handler": {}}
    first = store_key(with_mask_model(detector, sam), "m", yaml)
    assert first != store_key(detector, "m", yaml)
    (sam / "model.safetensors").write_bytes(b"other weights")
    assert store_key(with_mask_model(detector, sam), "m", yaml) != first


def test_serve_takes_a_mask_folder_as_it_is_and_refuses_an_unknown_name(tmp_path: Path) -> None:
    sam = folder(tmp_path, "sam")
    assert serve.mask_model_folder(str(sam)) == sam.resolve() and serve.mask_model_folder(None) is None
    with pytest.raises(SystemExit, match="neither a folder nor one of facebook/sam2.1-hiera-tiny"):
        serve.mask_model_folder("facebook/sam3")
    args = argparse.Namespace(mask_model=str(sam), hf_model=tmp_path / "gdino", checkpoint=None, backend="upstream")
    folder(tmp_path, "gdino")
    assert serve.model_files(args).handler_settings()["mask_model"] == MASK_FOLDER


def test_a_downloaded_mask_model_is_accepted_within_one_percent_of_its_published_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(download_weights, "reachable", lambda url, timeout=5.0: False)
    name = "facebook/sam2.1-hiera-tiny"
    published = download_weights.MASK_MODELS[name]
    target = tmp_path / "sam"
    target.mkdir()
    with (target / "model.safetensors").open("wb") as handle:
        handle.truncate(int(published * 1.009))  # sparse: no disk used
    assert download_weights.download_mask_model(name, target) == target
    with (target / "model.safetensors").open("wb") as handle:
        handle.truncate(int(published * 0.98))  # a cut-off download: fetched again, here unreachable
    with pytest.raises(download_weights.DownloadError, match="not reachable"):
        download_weights.download_mask_model(name, target)

"""The openvino back end's converted model: cached once per key, archived as the worker reads it.

No conversion runs here: the converter is replaced by one that writes stand-in files, so what is
checked is the caching (built once, reused, stale conversions removed, a failed build leaves
nothing) and what goes into the archive and its handler settings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from gdino_serve import model_store_cache, serve
from gdino_serve.model_archive import OpenVinoModel, archive_files
from gdino_serve.model_store_cache import CONVERSIONS, cached_folder, conversion_key, converted_openvino_model
from gdino_serve.paths import FULL_CONFIG, TINY_CONFIG
from handler.backends.openvino.model_files import CAPTION_BIN, CAPTION_XML, FOLDER, IMAGE_BIN, IMAGE_XML, METADATA


def fake_converter(calls: list[tuple[str, ...]]):
    """A converter that records its arguments and writes the files of a converted folder."""

    def run(*arguments: str) -> None:
        calls.append(arguments)
        out = Path(arguments[arguments.index("--out") + 1])
        out.mkdir(parents=True)
        for name in (IMAGE_XML, IMAGE_BIN, CAPTION_XML, CAPTION_BIN, METADATA):
            (out / name).write_text(name)

    return run


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "weights.pth"
    path.write_bytes(b"checkpoint")
    return path


def test_a_checkpoint_is_converted_once_and_its_int8_copy_made_from_the_float32_one(
    tmp_path: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(model_store_cache, "_run_converter", fake_converter(calls))
    cache = tmp_path / "cache"
    first = converted_openvino_model(checkpoint, TINY_CONFIG, cache)
    assert converted_openvino_model(checkpoint, TINY_CONFIG, cache) == first and len(calls) == 1
    int8 = converted_openvino_model(checkpoint, TINY_CONFIG, cache, "int8")
    assert calls[1][:3] == ("--int8", "--source", str(first.folder)) and int8.folder != first.folder
    assert {path.name for path in cache.iterdir()} == {first.folder.name, int8.folder.name}
    checkpoint.write_bytes(b"new weights")  # a new checkpoint: a new conversion, the old ones removed
    second = converted_openvino_model(checkpoint, TINY_CONFIG, cache)
    assert len(calls) == 3 and [path.name for path in cache.iterdir()] == [second.folder.name]


def test_the_conversion_key_covers_the_weights_kind_and_the_config() -> None:
    keys = {
        conversion_key("sha", TINY_CONFIG, "float32"),
        conversion_key("sha", TINY_CONFIG, "int8"),
        conversion_key("sha", FULL_CONFIG, "float32"),
        conversion_key("other", TINY_CONFIG, "float32"),
    }
    assert len(keys) == 4


def test_a_failed_build_leaves_no_folder_under_its_key(tmp_path: Path) -> None:
    def fail(folder: Path) -> None:
        folder.mkdir()
        (folder / "half").write_text("")
        raise RuntimeError("converter died")

    with pytest.raises(RuntimeError):
        cached_folder(tmp_path, "key", "done", fail)
    assert list(tmp_path.iterdir()) == []


def test_the_archive_holds_the_ir_beside_the_caption_weights_and_selects_the_backend(tmp_path: Path) -> None:
    for name in (IMAGE_XML, IMAGE_BIN, CAPTION_XML, CAPTION_BIN, METADATA):
        (tmp_path / name).write_text(name)
    model = OpenVinoModel(tmp_path)
    files = archive_files(model)
    assert model.weights == tmp_path / CAPTION_BIN  # the serialized file: TorchServe places it in the model dir
    assert {f"{FOLDER}/{name}" for name in (IMAGE_XML, IMAGE_BIN, CAPTION_XML, METADATA)} <= set(files)
    assert not [name for name in files if name.endswith(".pth")]
    assert model.handler_settings() == {"backend": "openvino", "model_config": FOLDER}


def test_serve_converts_the_checkpoint_for_the_openvino_back_end_only(
    tmp_path: Path, checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    converted: list[tuple[Path, str]] = []
    monkeypatch.setattr(
        serve,
        "converted_openvino_model",
        lambda weights, config, cache, kind: converted.append((cache, kind)) or OpenVinoModel(tmp_path),
    )
    common = {"mask_model": None, "hf_model": None, "checkpoint": checkpoint, "config": TINY_CONFIG}
    cache = tmp_path / "stores"
    options = argparse.Namespace(**common, backend="openvino", openvino_weights="int8", cache=cache)
    assert serve.model_files(options).handler_settings()["backend"] == "openvino"
    assert converted == [(cache / CONVERSIONS, "int8")]
    upstream = serve.model_files(argparse.Namespace(**common, backend="upstream"))
    assert upstream.handler_settings()["backend"] == "upstream" and len(converted) == 1
    for backend, hf_model in (("transformers", None), ("openvino", tmp_path)):
        with pytest.raises(SystemExit, match="--backend"):
            serve.model_files(
                argparse.Namespace(**{**common, "hf_model": hf_model, "checkpoint": None}, backend=backend)
            )

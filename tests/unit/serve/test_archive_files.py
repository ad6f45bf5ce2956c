"""The archive carries the handler package's data files (the vocabularies), so the model-store key covers them."""

from __future__ import annotations

from gdino_serve.model_archive import handler_files
from handler.contract.vocabulary import VOCABULARIES


def test_the_handler_files_hold_every_module_and_every_vocabulary() -> None:
    files = handler_files()
    assert {f"handler/contract/vocabularies/{key}.json" for key in VOCABULARIES} <= set(files)
    assert "handler/frontends/torchserve/torchserve_handler.py" in files
    assert not [name for name in files if "__pycache__" in name or not name.endswith((".py", ".json"))]
    assert all(path.is_file() for path in files.values())

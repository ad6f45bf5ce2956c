"""The docs state the defaults and the one rule for commands: docs/labelstudio.md's settings are
the contract's ports (8080 is TorchServe's, and only TorchServe's), and no doc runs a command
through a path into .venv (the rule: activate it once, as the README says)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from gdino_serve.paths import REPO
from handler.contract import defaults
from tests.support.doc_blocks import exported_values, shell_blocks

LABEL_STUDIO_DOC = REPO / "docs" / "labelstudio.md"
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def test_the_label_studio_walk_starts_with_the_settings_at_their_defaults() -> None:
    first = shell_blocks(LABEL_STUDIO_DOC)[0]
    assert first.text.startswith("source .venv/bin/activate\n")
    settings = exported_values(first.text)
    assert urlsplit(settings["TORCHSERVE_URL"]).port == defaults.INFERENCE_PORT
    assert int(settings["LABEL_STUDIO_PORT"]) == defaults.LABEL_STUDIO_PORT
    assert settings["LABEL_STUDIO_URL"] == f"http://{defaults.HOST}:$LABEL_STUDIO_PORT"
    assert int(settings["BACKEND_PORT"]) == defaults.LABEL_STUDIO_BACKEND_PORT
    assert len({defaults.INFERENCE_PORT, defaults.LABEL_STUDIO_PORT, defaults.LABEL_STUDIO_BACKEND_PORT}) == 3


def test_8080_in_the_label_studio_doc_is_torchserve_only() -> None:
    lines = [line for line in LABEL_STUDIO_DOC.read_text().splitlines() if str(defaults.INFERENCE_PORT) in line]
    assert lines
    about_torchserve = re.compile(r"TorchServe|TORCHSERVE_URL|/predictions/")
    assert [line for line in lines if not about_torchserve.search(line)] == []
    for port in (defaults.LABEL_STUDIO_PORT, defaults.LABEL_STUDIO_BACKEND_PORT):
        assert f"127.0.0.1:{port}" in LABEL_STUDIO_DOC.read_text()


def test_no_doc_runs_a_command_through_a_path_into_the_venv() -> None:
    for doc in DOCS:
        rest = doc.read_text().replace("source .venv/bin/activate", "")
        assert re.findall(r"\.venv/bin/\S+", rest) == [], doc.name

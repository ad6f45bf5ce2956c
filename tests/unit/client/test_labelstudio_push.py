"""The folder-to-project command's checks that need no Label Studio (the import itself runs
against a real one in tests/integration/test_labelstudio.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gdino_client.commands.annotate import main
from gdino_client.labelstudio.push import local_files_url


def test_local_files_url_is_the_path_below_the_document_root(tmp_path: Path) -> None:
    image = tmp_path / "site photos" / "a" / "x 1.jpg"
    assert local_files_url(image, tmp_path) == "/data/local-files/?d=site%20photos/a/x%201.jpg"


def test_local_files_url_outside_the_document_root_says_which_setting(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LOCAL_FILES_DOCUMENT_ROOT"):
        local_files_url(tmp_path / "x.jpg", tmp_path / "elsewhere")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ls-url", "http://127.0.0.1:9"], "--ls-url and --ls-token"),
        (["--ls-url", "http://127.0.0.1:9", "--ls-token", "t"], "--ls-document-root"),
    ],
)
def test_incomplete_project_options_are_refused_before_any_request(
    small_folder: Path,
    tmp_path: Path,
    extra: list[str],
    message: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY", "LOCAL_FILES_DOCUMENT_ROOT"):
        monkeypatch.delenv(name, raising=False)
    command = [str(small_folder), "--out", str(tmp_path / "out"), "--classes", "cat", "--ls-project", "Cats", *extra]
    assert main(command) == 2
    assert message in caplog.text and not (tmp_path / "out").exists()

"""The container build forwards every path-valued pip setting of the host, so pip in the build finds
what the host's pip finds (a constraints file the host names once broke every image build)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gdino_serve.container import PIP_MOUNT_ROOT, PipSettings, host_pip_settings


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    made = {
        "constraint": tmp_path / "constraints.txt",
        "requirement": tmp_path / "requirements.txt",
        "cert": tmp_path / "ca.pem",
        "client-cert": tmp_path / "client.pem",
        "find-links": tmp_path / "wheels",
        "index": tmp_path / "pypi" / "simple",
    }
    for key, path in made.items():
        if key in ("find-links", "index"):
            path.mkdir(parents=True)
        else:
            path.write_text("x\n")
    return made


@pytest.mark.parametrize("key", ["constraint", "requirement"])
def test_a_file_setting_is_mounted_at_its_own_path_and_kept(files, key):
    settings = PipSettings()
    assert settings.translate(key, str(files[key])) == str(files[key])
    assert settings.mounts == [(files[key], str(files[key]))]


@pytest.mark.parametrize("key", ["cert", "client-cert"])
def test_a_certificate_moves_to_a_neutral_path(files, key):
    settings = PipSettings()
    value = settings.translate(key, str(files[key]))
    assert value == f"{PIP_MOUNT_ROOT}/0-{files[key].name}"
    assert settings.mounts == [(files[key], value)]


def test_find_links_folders_are_mounted(files):
    settings = PipSettings()
    assert settings.translate("find-links", str(files["find-links"])) == str(files["find-links"])
    assert settings.mounts == [(files["find-links"], str(files["find-links"]))]


@pytest.mark.parametrize("key", ["index-url", "extra-index-url"])
def test_a_local_index_mounts_its_parent_so_its_links_resolve_and_urls_stay(files, key):
    settings = PipSettings()
    value = f"file://{files['index']} https://pypi.org/simple"
    assert settings.translate(key, value) == value
    assert settings.mounts == [(files["index"].parent, str(files["index"].parent))]


def test_a_path_missing_here_is_dropped_and_the_setting_with_it(tmp_path):
    settings = PipSettings()
    assert settings.translate("constraint", str(tmp_path / "absent.txt")) is None
    assert settings.mounts == []


def test_settings_that_are_not_paths_pass_unchanged():
    settings = PipSettings()
    assert settings.translate("default-timeout", "180") == "180"
    assert settings.translate("index-url", "https://example.org/simple") == "https://example.org/simple"
    assert settings.mounts == []


def test_host_settings_from_the_environment_carry_the_constraints_file(files, monkeypatch):
    monkeypatch.setenv("PIP_CONSTRAINT", str(files["constraint"]))
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")  # only the variables count here
    settings = host_pip_settings()
    assert settings.config["constraint"] == str(files["constraint"])
    assert (files["constraint"], str(files["constraint"])) in settings.mounts

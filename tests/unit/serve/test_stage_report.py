"""The GPU check's report survives what a short lent call can do to it (gdino_serve/tools/stage_report.py):
a failing stage, a spent budget, a stage that runs over."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

from gdino_serve.paths import REPO
from gdino_serve.tools.stage_report import Deadline, Report


def test_each_entry_is_on_disk_at_once(tmp_path) -> None:
    report = Report(tmp_path / "report.json")
    report.put(("precision", "float16", "batch8"), {"images_per_s": 12.5})
    report.put(("precision", "float16", "batch1"), {"images_per_s": 3.0})
    on_disk = json.loads((tmp_path / "report.json").read_text())
    assert on_disk == {"precision": {"float16": {"batch8": {"images_per_s": 12.5}, "batch1": {"images_per_s": 3.0}}}}


def test_a_failing_stage_is_recorded_and_the_next_one_runs(tmp_path) -> None:
    report = Report(tmp_path / "report.json")
    with report.stage("load", Deadline(60)) as go:
        assert go
        raise RuntimeError("CUDA out of memory")
    with report.stage("tests", Deadline(60)) as go:
        assert go
    stages = json.loads((tmp_path / "report.json").read_text())["stages"]
    assert stages["load"]["status"] == "failed" and "CUDA out of memory" in stages["load"]["error"]
    assert "RuntimeError" in stages["load"]["traceback"]
    assert stages["tests"]["status"] == "ok" and stages["tests"]["seconds"] >= 0


def test_no_stage_starts_after_the_deadline(tmp_path) -> None:
    report = Report(tmp_path / "report.json")
    with report.stage("compiled", Deadline(0)) as go:
        assert not go
    assert report.data["stages"]["compiled"] == {"status": "skipped: the time budget was spent"}


def test_the_watchdog_ends_a_stage_that_runs_over_and_says_which(tmp_path) -> None:
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from gdino_serve.tools.stage_report import Deadline, Report
        report = Report(Path({str(tmp_path / "report.json")!r}))
        deadline = Deadline(0.2)
        report.watch(deadline, grace_s=0.2)
        with report.stage("compiled", deadline):
            time.sleep(30)
    """)
    began = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 124 and time.monotonic() - began < 20
    stages = json.loads((tmp_path / "report.json").read_text())["stages"]
    assert stages == {"compiled": {"status": "stopped by the watchdog"}}

"""Headless Chromium from Debian's packages (scripts/setup_labelstudio.sh installs it), driven
by Selenium, for the browser tests; screenshots go to build/screenshots/."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from gdino_serve.paths import BUILD
from tests.support.polling import wait_for

SCREENSHOTS = BUILD / "screenshots"


@contextmanager
def chromium(width: int = 1400, height: int = 1000) -> Iterator[object]:
    """A headless Chromium session that can reach 127.0.0.1 only (every other name resolves to nothing)."""
    webdriver = pytest.importorskip("selenium.webdriver")
    binary, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (binary and driver_path):
        pytest.fail("chromium and chromedriver are missing: run bash scripts/setup_labelstudio.sh")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},{height}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: object, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    return path


def labelstudio_task_screenshot(url: str, project: int, task: int, labels: list[str], name: str) -> tuple[int, Path]:
    """Log in to the runner's Label Studio at ``url``, open the task page, wait until the regions
    are listed (entries named by ``labels`` beyond the label bar) and save it as ``name``; how many
    such entries it found, and the screenshot."""
    from selenium.webdriver.common.by import By

    from gdino_serve.tools.labelstudio_runner import EMAIL, PASSWORD

    named = " or ".join(f"text()={label!r}" for label in labels)
    with chromium() as driver:
        driver.get(f"{url}/user/login/")
        driver.find_element(By.NAME, "email").send_keys(EMAIL)
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit], input[type=submit]").click()
        wait_for(lambda: "/user/login" not in driver.current_url, 60, "the login")
        driver.get(f"{url}/projects/{project}/data?task={task}")
        entries = wait_for(
            lambda: (found := len(driver.find_elements(By.XPATH, f"//*[{named}]"))) > len(labels) and found,
            120,
            "the regions",
        )
        time.sleep(3)  # let the canvas draw the regions
        return entries, screenshot(driver, name)

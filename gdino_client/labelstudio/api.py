"""The few Label Studio REST calls this project makes (projects, local-files storage, task
import, ML backends) and fetching task images with the API token. Torch-free: requests only."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from gdino_client.labelstudio.config import UnusableConfig, box_target

logger = logging.getLogger(__name__)


class LabelStudioError(RuntimeError):
    """Label Studio refused a call; the message carries its status and answer."""


def auth_header(token: str) -> dict[str, str]:
    """Label Studio's legacy API token goes as ``Token <key>`` (a personal access token, a JWT,
    is exchanged for short-lived access tokens instead)."""
    return {"Authorization": f"Token {token}"}


class LabelStudio:
    """A Label Studio at ``url`` (e.g. ``http://localhost:8080``) used with the API ``token``."""

    def __init__(self, url: str, token: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout
        self.session = requests.Session()
        self._refresh_token = token if token.count(".") == 2 else None  # a personal access token (JWT)
        self.session.headers.update(auth_header(token) if self._refresh_token is None else self._access_header())

    def _access_header(self) -> dict[str, str]:
        """A short-lived access token for the personal access token (asked again when it expires)."""
        reply = requests.post(
            self.url + "api/token/refresh/", json={"refresh": self._refresh_token}, timeout=self.timeout
        )
        if reply.status_code != 200:
            raise LabelStudioError(f"personal access token refused: HTTP {reply.status_code} {reply.text[:200]}")
        return {"Authorization": f"Bearer {reply.json()['access']}"}

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        reply = self.session.request(method, url, timeout=self.timeout, **kwargs)
        if reply.status_code == 401 and self._refresh_token is not None:
            self.session.headers.update(self._access_header())
            reply = self.session.request(method, url, timeout=self.timeout, **kwargs)
        return reply

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of ``method path`` (a 2xx), else LabelStudioError."""
        reply = self._send(method, self.url + path.lstrip("/"), **kwargs)
        if reply.status_code >= 300:
            raise LabelStudioError(f"{method} {path}: HTTP {reply.status_code} {reply.text[:300]}")
        return reply.json() if reply.content else None

    def _pages(self, path: str, items: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list (``results`` with ``count``, or ``tasks`` with ``total``)."""
        seen, page, size = 0, 1, 100
        while True:
            body = self.call("GET", path, params={**params, "page": page, "page_size": size})
            chunk = body if isinstance(body, list) else body.get(items, [])
            yield from chunk
            seen += len(chunk)
            total = None if isinstance(body, list) else body.get("count", body.get("total"))
            if len(chunk) < size or (total is not None and seen >= total):
                return
            page += 1

    def find_project(self, title: str) -> dict[str, Any] | None:
        return next((p for p in self._pages("api/projects", "results") if p.get("title") == title), None)

    def ensure_project(self, title: str, label_config: str) -> dict[str, Any]:
        """The project called ``title``, created with ``label_config`` if missing; an existing
        project whose config asks for other boxes or labels gets ``label_config``."""
        project = self.find_project(title)
        if project is None:
            logger.info("creating Label Studio project %r", title)
            return self.call("POST", "api/projects", json={"title": title, "label_config": label_config})
        try:
            same = box_target(project.get("label_config", "")) == box_target(label_config)
        except UnusableConfig:
            same = False
        if not same:
            logger.info("setting the labeling config of Label Studio project %r", title)
            project = self.call("PATCH", f"api/projects/{project['id']}", json={"label_config": label_config})
        return project

    def task_values(self, project: int, key: str) -> set[str]:
        """The values of data field ``key`` over the project's tasks (to import each image once)."""
        return {str(task.get("data", {}).get(key)) for task in self.tasks(project)}

    def ensure_local_storage(self, project: int, path: str, title: str) -> dict[str, Any]:
        """A Local Files import storage of ``project`` on the absolute folder ``path``: Label Studio
        serves ``/data/local-files/?d=...`` only below such a storage. Not synced: tasks are imported
        with their predictions instead."""
        for storage in self.call("GET", "api/storages/localfiles", params={"project": project}):
            if storage.get("path") == path:
                return storage
        body = {"project": project, "path": path, "title": title, "use_blob_urls": True, "regex_filter": ""}
        return self.call("POST", "api/storages/localfiles", json=body)

    def import_tasks(self, project: int, tasks: list[dict[str, Any]]) -> dict[str, Any]:
        return self.call("POST", f"api/projects/{project}/import", json=tasks)

    def upload_image(self, project: int, name: str, data: bytes) -> str:
        """Upload an image to ``project`` without making a task; returns its ``/data/upload/...`` URL."""
        body = self.call(
            "POST", f"api/projects/{project}/import", params={"commit_to_project": "false"}, files={name: (name, data)}
        )
        upload = self.call("GET", f"api/import/file-upload/{body['file_upload_ids'][0]}")
        return "/data/" + str(upload["file"]).lstrip("/")

    def connect_model(self, project: int, url: str, title: str) -> dict[str, Any]:
        """Connect the ML backend at ``url`` to ``project`` (predictions on request, not interactive)."""
        body = {"project": project, "url": url, "title": title, "is_interactive": False}
        return self.call("POST", "api/ml", json=body)

    def ml_backends(self, project: int) -> list[dict[str, Any]]:
        """The ML backends connected to ``project`` (id, url, title, model_version, state), as the
        project's model-version list has them: ``GET api/ml`` would first call every backend's
        ``/setup``, so a backend asking from its own ``/setup`` would call itself without end."""
        params = {"extended": "true", "include_live_models": "true"}
        return list(self.call("GET", f"api/projects/{project}/model-versions", params=params).get("live") or [])

    def retrieve_predictions(self, project: int, tasks: list[int]) -> dict[str, Any]:
        """Ask the project's ML backend for these tasks' predictions now (the Data Manager's
        "Retrieve Predictions" action)."""
        selected = {"selectedItems": {"all": False, "included": tasks}}
        return self.call(
            "POST", "api/dm/actions", params={"id": "retrieve_tasks_predictions", "project": project}, json=selected
        )

    def tasks(self, project: int) -> list[dict[str, Any]]:
        """Every task of ``project`` with its predictions."""
        return list(self._pages("api/tasks", "tasks", project=project, fields="all"))

    def fetch(self, url: str) -> bytes:
        """The bytes behind a task's image URL: Label Studio paths (``/data/upload/...``,
        ``/data/local-files/?d=...``) and URLs on this Label Studio go with the token; others without."""
        absolute = urljoin(self.url, url)
        own = urlsplit(absolute).netloc == urlsplit(self.url).netloc
        reply = self._send("GET", absolute) if own else requests.get(absolute, timeout=self.timeout)
        if reply.status_code != 200:
            raise LabelStudioError(f"GET {absolute}: HTTP {reply.status_code}")
        return reply.content

"""Label Studio ML backend: Label Studio's model protocol (``GET /health``, ``POST /setup``,
``POST /predict``, ``POST /webhook``) in front of the detection service, so a project can
"connect a model" and get pre-annotations on demand. The labels of the project's
``<RectangleLabels>`` are the class list; when the config also (or only) has ``<BrushLabels>`` or
``<PolygonLabels>``, the service is asked for masks and they come back as brush or polygon regions.
Task images are fetched from Label Studio with its API token (``--ls-url``/``--ls-token``, else the
host and token Label Studio sends with ``/setup``).

One model version string: Label Studio makes the title a project connects the model under the
project's ``model_version``, so ``/setup`` answers with that title and the predictions carry it
(the settings' version where Label Studio cannot say it). Torch-free: the standard library's HTTP
server and requests."""

from __future__ import annotations

import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import requests

from gdino_client.client import DetectionClient, RequestFailed
from gdino_client.http_serving import send_json
from gdino_client.labelstudio.api import LabelStudio, LabelStudioError
from gdino_client.labelstudio.config import BoxTarget, UnusableConfig, box_target
from gdino_client.labelstudio.export import LabelStudioOptions, prediction
from gdino_client.masks import BRUSH_EXTRA, MaskRequest, brush_available
from gdino_client.query import Query, Thresholds
from gdino_client.results import check_response, image_result
from handler.contract import defaults

logger = logging.getLogger(__name__)


class BackendError(Exception):
    """A request this backend cannot answer; ``status`` is the HTTP status it maps to."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class BackendSettings:
    thresholds: Thresholds = Thresholds()
    model_version: str = defaults.PREDICTIONS_MODEL_VERSION  # where Label Studio cannot say the title
    concurrency: int = 4  # images in flight per /predict call (so the service can batch them)


def connected_title(backends: list[dict[str, Any]], port: int | None) -> str | None:
    """The title this backend is connected under, among a project's ML backends: the only one whose
    URL has this backend's ``port``, else the only one (behind a proxy); None when that is not clear."""
    ours = [b for b in backends if _url_port(b.get("url")) == port]
    if len(ours) != 1:
        ours = backends if len(backends) == 1 else []
    if not ours:
        return None
    return str(ours[0].get("title") or "") or None


def _url_port(url: object) -> int | None:
    try:
        return urlsplit(str(url)).port
    except ValueError:
        return None


def project_id(project: object) -> str:
    """The project's id in Label Studio's ``"<id>.<created timestamp>"`` project field."""
    return str(project).split(".")[0]


def usable_target(label_config: str) -> BoxTarget:
    """The config's target, or a 400 saying why this backend cannot fill it."""
    try:
        target = box_target(label_config)
    except UnusableConfig as error:
        raise BackendError(400, str(error)) from None
    if target.mask_type == "brush" and not brush_available():
        raise BackendError(400, f"the labeling config asks for <BrushLabels>: {BRUSH_EXTRA} on this backend")
    return target


class Predictor:
    """Answers the protocol's calls; Label Studio connections are kept per project."""

    def __init__(self, client: DetectionClient, settings: BackendSettings, label_studio: LabelStudio | None) -> None:
        self.client = client
        self.settings = settings
        self.label_studio = label_studio  # from the command line; else per project from /setup
        self.port: int | None = None  # where it listens (make_server), to tell its own entry among several
        self._projects: dict[str, LabelStudio] = {}
        self._lock = threading.Lock()

    def health(self) -> dict[str, Any]:
        return {"status": "UP", "model_class": "GroundingDINO", "model_version": self.settings.model_version}

    def setup(self, body: dict[str, Any]) -> dict[str, Any]:
        """Check the project's labeling config; remember how to reach its Label Studio; answer the
        model version the project shows."""
        target = usable_target(str(body.get("schema", "")))
        project = str(body.get("project"))
        if self.label_studio is None and body.get("hostname") and body.get("access_token"):
            with self._lock:
                self._projects[project] = LabelStudio(body["hostname"], body["access_token"])
        version = self.model_version(project)
        logger.debug(
            "project %s set up: labels %s, model_version %r", project_id(project), target.classes.names, version
        )
        return {"model_version": version}

    def _connection(self, project: str) -> LabelStudio | None:
        return self.label_studio or self._projects.get(project)

    def model_version(self, project: str) -> str:
        """The title ``project`` connected this model under (Label Studio shows it as the project's
        model_version), else the settings' model_version."""
        ls, number = self._connection(project), project_id(project)
        if ls is None or not number.isdigit():
            return self.settings.model_version
        try:
            title = connected_title(ls.ml_backends(int(number)), self.port)
        except (LabelStudioError, requests.RequestException, ValueError) as error:
            logger.warning(
                "project %s: the model's title is unknown (%s); model_version %r",
                number,
                error,
                self.settings.model_version,
            )
            return self.settings.model_version
        return title or self.settings.model_version

    def _predict_one(
        self, task: dict[str, Any], target: BoxTarget, query: Query, ls: LabelStudio, version: str
    ) -> dict[str, Any]:
        url = task.get("data", {}).get(target.data_key)
        if not url:
            raise BackendError(400, f"task {task.get('id')} has no {target.data_key!r} in its data")
        response = query.detect(ls.fetch(str(url)))
        check_response(response)
        result = image_result(str(url), response, target.classes)
        options = LabelStudioOptions(
            target.from_name,
            target.to_name,
            model_version=version,
            mask_type=target.mask_type,
            mask_from_name=target.mask_from_name or "",
        )
        return prediction(result, target.classes, options)

    def predict(self, body: dict[str, Any]) -> dict[str, Any]:
        """One prediction per task, in order; a task that fails gets an empty one (logged),
        and the call fails only when every task did. Logs one line per call."""
        started = time.monotonic()
        target = usable_target(str(body.get("label_config", "")))
        tasks = body.get("tasks") or []
        project = str(body.get("project"))
        ls = self._connection(project)
        if ls is None:
            raise BackendError(
                500, "no Label Studio to fetch images from: start the backend with --ls-url and --ls-token"
            )
        version = self.model_version(project)
        masks = MaskRequest() if target.wants_masks else None
        query = Query(self.client, target.classes, self.settings.thresholds, send_classes=True, masks=masks)

        def attempt(task: dict[str, Any]) -> dict[str, Any] | str:
            try:
                return self._predict_one(task, target, query, ls, version)
            except (RequestFailed, LabelStudioError, ValueError) as error:
                logger.warning("task %s: %s", task.get("id"), error)
                return f"task {task.get('id')}: {error}"

        with ThreadPoolExecutor(max_workers=self.settings.concurrency) as pool:
            outcomes = list(pool.map(attempt, tasks))
        failures = [outcome for outcome in outcomes if isinstance(outcome, str)]
        empty = {"model_version": version, "score": 0.0, "result": []}
        results = [empty if isinstance(outcome, str) else outcome for outcome in outcomes]
        logger.info(
            "predict: project %s, %d tasks, %d boxes, %d failed, %.2f s (model_version %r)",
            project_id(project),
            len(tasks),
            sum(len(result["result"]) for result in results),
            len(failures),
            time.monotonic() - started,
            version,
        )
        if tasks and len(failures) == len(tasks):
            raise BackendError(502, "; ".join(failures))
        return {"results": results}


class _Handler(BaseHTTPRequestHandler):
    predictor: Predictor

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        send_json(self, status, body)

    def _route(self, method: str) -> None:
        predictor: Predictor = self.server.predictor  # type: ignore[attr-defined]
        path = self.path.split("?")[0].rstrip("/") or "/"
        try:
            if method == "GET" and path in ("/", "/health"):
                return self._answer(200, predictor.health())
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}") if method == "POST" else {}
            routes = {
                "/setup": predictor.setup,
                "/predict": predictor.predict,
                "/webhook": lambda _: {"status": "ok"},  # training is not this backend's business
            }
            if method != "POST" or path not in routes:
                return self._answer(404, {"error": f"no {method} {path}"})
            return self._answer(200, routes[path](body))
        except json.JSONDecodeError as error:
            return self._answer(400, {"error": f"the body is not JSON: {error}"})
        except BackendError as error:
            logger.warning("%s %s: %s", method, path, error.message)
            return self._answer(error.status, {"error": error.message})

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._route("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._route("POST")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's signature
        logger.debug(format, *args)


def make_server(
    predictor: Predictor, host: str = defaults.HOST, port: int = defaults.LABEL_STUDIO_BACKEND_PORT
) -> ThreadingHTTPServer:
    """The backend's HTTP server (not started; ``serve_forever`` runs it)."""
    server = ThreadingHTTPServer((host, port), _Handler)
    server.predictor = predictor  # type: ignore[attr-defined]
    predictor.port = server.server_address[1]
    return server

"""The Ray Serve front end's configuration, checked without a cluster: deploy/ray/serve-config.yaml and
the KubeRay RayService against Ray's own schema (plus unknown keys), the one-machine variant, the
application args, the gateway's routes and where a replica's model files come from."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from gdino_serve.model_archive import UpstreamModel
from gdino_serve.paths import REPO, TINY_CONFIG
from gdino_serve.ray_serve.app_args import AppArgs
from gdino_serve.ray_serve.config import deployment_options, load_serve_config, local_serve
from gdino_serve.ray_serve.gateway import route
from gdino_serve.ray_serve.model_source import linked_model, store_model
from gdino_serve.tools.validate_ray_config import RAYSERVICE, rayservice_problems, serve_config_problems
from gdino_serve.torchserve_runner import read_properties
from handler.contract import defaults

pytestmark = pytest.mark.ray


@pytest.fixture
def config() -> dict:
    return load_serve_config()


def test_the_serve_config_and_the_rayservice_pass_rays_schema_and_name_only_known_keys(config: dict) -> None:
    assert serve_config_problems(config) == []
    assert rayservice_problems(yaml.safe_load(RAYSERVICE.read_text()), config) == []


def test_typos_that_rays_schema_lets_pass_are_caught(config: dict) -> None:
    typo = copy.deepcopy(config)
    app = typo["applications"][0]
    app["routeprefix"] = "/"
    detector = app["deployments"][0]
    detector["max_replica"] = 3
    detector["ray_actor_options"]["num_gpu"] = 1
    detector["autoscaling_config"]["min_replica"] = 1
    app["args"]["checkpont"] = "x.pth"
    problems = "\n".join(serve_config_problems(typo))
    for key in ("routeprefix", "max_replica", "num_gpu", "min_replica", "checkpont"):
        assert key in problems


def test_wrong_types_and_rules_are_refused_by_rays_schema(config: dict) -> None:
    wrong = copy.deepcopy(config)
    wrong["applications"][0]["deployments"][0]["ray_actor_options"]["num_gpus"] = "half"
    assert "num_gpus" in "\n".join(serve_config_problems(wrong))
    both = copy.deepcopy(config)
    both["applications"][0]["deployments"][0]["num_replicas"] = 2  # with autoscaling_config
    assert serve_config_problems(both)


def test_the_rayservice_must_embed_the_serve_config_itself(config: dict) -> None:
    service = yaml.safe_load(RAYSERVICE.read_text())
    changed = copy.deepcopy(config)
    changed["applications"][0]["deployments"][0]["max_ongoing_requests"] = 99
    service["spec"]["serveConfigV2"] = yaml.safe_dump(changed)
    assert any("differs" in problem for problem in rayservice_problems(service, config))


def test_one_machine_takes_replicas_gpus_and_cpus_from_the_host(config: dict) -> None:
    local = local_serve(config, replicas=4, gpus=2, workers_per_gpu=2, cpus=16, host="127.0.0.1", port=8000)
    assert local.detector["num_replicas"] == 4 and "autoscaling_config" not in local.detector
    assert local.detector["ray_actor_options"] == {"num_cpus": 4, "num_gpus": 0.5}  # workers_per_gpu 2: half a GPU
    assert local.detector["max_ongoing_requests"] == deployment_options(config, "Detector")["max_ongoing_requests"]
    assert local.gateway["num_replicas"] == 1 and local.gateway["ray_actor_options"]["num_cpus"] == 0
    assert local.http_options["host"] == "127.0.0.1" and local.http_options["port"] == 8000
    cpu_only = local_serve(config, replicas=1, gpus=0, workers_per_gpu=1, cpus=2, host="127.0.0.1", port=8000)
    assert cpu_only.detector["ray_actor_options"] == {"num_cpus": 2, "num_gpus": 0}


def test_the_gateways_body_limit_is_torchserves_max_request_size() -> None:
    assert int(read_properties(REPO / "config.properties")["max_request_size"]) == defaults.MAX_REQUEST_BYTES


def test_application_args_refuse_unknown_keys_and_two_model_sources() -> None:
    assert AppArgs.from_mapping({}).model_name == "groundingdino"
    with pytest.raises(ValueError, match="chekpoint"):
        AppArgs.from_mapping({"chekpoint": "x"})
    with pytest.raises(ValueError, match="not both"):
        AppArgs.from_mapping({"model_store": "/s", "checkpoint": "/c.pth"})


@pytest.mark.parametrize(
    ("method", "path", "action"),
    [
        ("POST", "/predictions/groundingdino", "predict"),
        ("POST", "/v1/models/groundingdino:predict", "predict"),
        ("POST", "/v2/models/groundingdino/infer", "predict"),
        ("GET", "/ping", "ping"),
        ("GET", "/v2/health/ready", "ready"),
        ("GET", "/v2/health/live", "live"),
        ("GET", "/v1/models/groundingdino", "model_ready"),
        ("GET", "/v2/models/groundingdino/ready", "model_ready"),
        ("GET", "/predictions/groundingdino", None),
        ("POST", "/predictions/groundingdino/extra", None),
        ("POST", "/v1/models/other:predict", None),
    ],
)
def test_the_gateway_routes_torchserves_and_kserves_paths(method: str, path: str, action: str | None) -> None:
    found, why = route(method, path, "groundingdino")
    assert found == action
    assert bool(why) == (action is None)
    if "other" in path:
        assert "Model not found: other" in why


def test_a_replica_reads_a_model_store_as_torchserves_worker_does(tmp_path: Path) -> None:
    folder = tmp_path / "groundingdino"
    (folder / "MAR-INF").mkdir(parents=True)
    manifest = {"model": {"modelName": "groundingdino", "serializedFile": "w.pth", "modelVersion": "1.0"}}
    (folder / "MAR-INF" / "MANIFEST.json").write_text(json.dumps(manifest))
    settings = {"batchSize": 4, "maxBatchDelay": 20, "handler": {"resize_short": 320, "model_config": "c.py"}}
    (folder / "model-config.yaml").write_text(yaml.safe_dump(settings))
    model = store_model(tmp_path, handler={"dtype": "bfloat16"})
    assert (model.model_dir, model.weights) == (folder, folder / "w.pth")
    assert (model.max_batch_size, model.batch_wait_s) == (4, 0.02)
    assert model.settings.resize_short == 320 and model.settings.dtype == "bfloat16"
    assert model.settings.model_config == "c.py"


def test_a_checkpoint_is_linked_in_the_archives_layout_without_copying(tmp_path: Path) -> None:
    weights = tmp_path / "weights.pth"
    weights.write_bytes(b"not really weights")
    with linked_model(UpstreamModel(weights, TINY_CONFIG)) as model:
        assert model.weights.resolve() == weights and model.weights.is_symlink()
        assert (model.model_dir / model.settings.model_config).resolve() == TINY_CONFIG
        assert (model.model_dir / model.settings.bert_dir / "vocab.txt").is_file()
        assert model.max_batch_size == 8  # the checkout's model-config.yaml
    assert not model.model_dir.exists()

"""KServe v1/v2 bodies to fields and answers to tensors, the pass-through envelopes, the store config and manifests."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml

from gdino_serve.kserve_store import kserve_properties
from gdino_serve.tools.validate_kserve_manifests import MANIFESTS, shape_problems
from handler.contract.errors import InvalidInput
from handler.frontends.http.kserve_protocol import ModelRef, kserve_answer, kserve_error, parse_kserve, v2_outputs
from handler.frontends.torchserve import kserve_envelope_patch

ANSWER = {
    "boxes": [[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]],
    "scores": [0.9, 0.8],
    "phrases": ["cup", "saucer"],
    "labels": ["cup", "saucer"],
    "class_ids": [0, 1],
    "image_size": [600, 400],
}


def tensor(name: str, data: list, datatype: str = "BYTES") -> dict:
    return {"name": name, "shape": [len(data)], "datatype": datatype, "data": data}


def test_v1_instances_become_one_field_mapping_each_with_b64_objects_unwrapped():
    request = parse_kserve(
        {"instances": [{"image": {"b64": "QUJD"}, "caption": "cup"}, {"image": "REVG", "classes": ["a"]}]}
    )
    assert request.protocol == "v1"
    assert request.items == [{"image": "QUJD", "caption": "cup"}, {"image": "REVG", "classes": ["a"]}]


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"instances": []}, "non-empty list"),
        ({"instances": ["QUJD"]}, "instances[0] must be an object"),
        ({"instances": [{}], "signature_name": "x"}, "unknown v1 key(s): signature_name"),
        ({"inputs": [tensor("image", ["a", "b"])]}, "carries one image"),
        ({"inputs": [{"name": "image", "shape": [2], "datatype": "BYTES", "data": ["a"]}]}, "does not match 1"),
        ({"inputs": [tensor("image", ["a"])], "parameters": {"image": "b"}}, "'image' is given twice"),
        ({"inputs": [{"name": "image"}]}, "inputs[0] must be a tensor"),
    ],
)
def test_malformed_kserve_body_is_refused_naming_the_problem(body, fragment):
    with pytest.raises(InvalidInput) as error:
        parse_kserve(body)
    assert fragment in error.value.message


def test_v2_tensors_and_parameters_become_fields_with_class_lists_kept_whole():
    body = {
        "id": "7",
        "inputs": [
            tensor("image", ["QUJD"]),
            tensor("classes", ["cup", "saucer"]),
            tensor("box_threshold", [0.5], "FP32"),
        ],
        "parameters": {"text_threshold": 0.4},
    }
    request = parse_kserve(body)
    assert request.protocol == "v2" and request.request_id == "7"
    assert request.items == [
        {"image": "QUJD", "classes": ["cup", "saucer"], "box_threshold": 0.5, "text_threshold": 0.4}
    ]


def test_v2_carries_the_prompt_modes_as_tensors_or_parameters():
    from handler.core.request import parse_request
    from handler.core.settings import HandlerSettings

    def fields(body: dict) -> tuple:
        request = parse_request(parse_kserve(body).items[0], HandlerSettings())
        return request.classes, request.entities

    caption = tensor("caption", ["red apple and green pear"])
    as_parameter = {"inputs": [tensor("image", ["QUJD"]), caption], "parameters": {"entities": [[4, 9], [20, 24]]}}
    as_tensor = {"inputs": [tensor("image", ["QUJD"]), caption, tensor("entities", ["[[4, 9], [20, 24]]"])]}
    assert fields(as_parameter) == fields(as_tensor) == (("apple", "pear"), (((4, 9),), ((20, 24),)))
    referring = {"inputs": [tensor("image", ["QUJD"]), caption, tensor("referring", [True], "BOOL")]}
    assert fields(referring)[0] == ("red apple and green pear",)
    vocabulary = {"inputs": [tensor("image", ["QUJD"]), tensor("vocabulary", ["voc"])]}
    assert fields(vocabulary)[0][:2] == ("aeroplane", "bicycle")


def test_v2_answer_has_one_typed_tensor_per_answer_field():
    request = parse_kserve({"id": "7", "inputs": [tensor("image", ["QUJD"])]})
    body = kserve_answer(request, [ANSWER], ModelRef("groundingdino", "1.0"))
    assert body["id"] == "7" and body["model_name"] == "groundingdino" and body["model_version"] == "1.0"
    outputs = {output["name"]: output for output in body["outputs"]}
    assert set(outputs) == set(ANSWER)
    assert outputs["boxes"]["shape"] == [2, 4] and outputs["boxes"]["data"][4:] == [5.0, 6.0, 7.0, 8.0]
    assert (outputs["scores"]["datatype"], outputs["class_ids"]["datatype"], outputs["labels"]["datatype"]) == (
        "FP32",
        "INT64",
        "BYTES",
    )
    assert outputs["image_size"]["shape"] == [2]
    empty = {output["name"]: output["shape"] for output in v2_outputs({**ANSWER, "boxes": [], "scores": []})}
    assert empty["boxes"] == [0, 4] and empty["scores"] == [0]


def test_v1_answer_lists_predictions_and_errors_name_the_instance():
    request = parse_kserve({"instances": [{"image": "QUJD"}, {"image": "REVG"}]})
    assert kserve_answer(request, [ANSWER, ANSWER], ModelRef("m", "1"))["predictions"] == [ANSWER, ANSWER]
    error = kserve_error({"code": 400, "type": "InvalidBase64", "message": "bad"}, request, 1)
    assert error == {"code": 400, "type": "InvalidBase64", "message": "instances[1]: bad", "error": "instances[1]: bad"}


def test_a_v1_request_larger_than_a_batch_is_refused_alone_with_kserves_error_shape():
    from handler.frontends.http.batch_answers import parse_envelope, request_reply, within_batch_limit

    body = json.dumps({"instances": [{"image": "QUJD", "caption": "cup"}] * 3}).encode()
    request = parse_envelope({"body": body})
    assert within_batch_limit(request, 3) is request
    refused = request_reply(within_batch_limit(request, 2), [], ModelRef("m", "1"))
    assert refused.status == 400 and refused.body["type"] == "TooManyInstances"
    assert refused.body["error"] == refused.body["message"] and "3 instances" in refused.body["message"]


def test_torchserve_loads_the_pass_through_for_kserve_envelopes(monkeypatch):
    from ts.model_loader import TsModelLoader

    for name in kserve_envelope_patch.KSERVE_ENVELOPES:  # restored after the test
        monkeypatch.delitem(sys.modules, f"{kserve_envelope_patch.ENVELOPE_PACKAGE}.{name}", raising=False)
    kserve_envelope_patch.install()
    batch = [{"body": {"instances": []}}, {"body": {"inputs": []}}]
    for name in kserve_envelope_patch.KSERVE_ENVELOPES:
        envelope = TsModelLoader()._load_default_envelope(name)
        assert issubclass(envelope, kserve_envelope_patch.PassThroughEnvelope)
        assert envelope(lambda data, context: [len(data), context]).handle(batch, "ctx") == [2, "ctx"]


def test_kserve_config_has_the_snapshot_envelope_and_envvars_kserve_relies_on():
    properties = kserve_properties("groundingdino", {"batchSize": 4, "maxBatchDelay": 100, "minWorkers": 2}, "v2")
    assert properties["enable_envvars_config"] == "true" and properties["service_envelope"] == "kservev2"
    assert properties["model_store"] == "/mnt/models/model-store"
    assert properties["disable_token_authorization"] == "true"  # KServe's model server sends no token
    version = json.loads(properties["model_snapshot"])["models"]["groundingdino"]["1.0"]
    assert version == {
        "defaultVersion": True,
        "marName": "groundingdino.mar",
        "minWorkers": 2,
        "batchSize": 4,
        "maxBatchDelay": 100,
    }


MANIFEST_FILES = sorted(MANIFESTS.glob("*.yaml"))


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=[path.name for path in MANIFEST_FILES])
def test_manifest_is_an_inference_service_running_this_projects_container(path: Path):
    assert shape_problems(yaml.safe_load(path.read_text())) == []


def test_a_manifest_for_kserves_torchserve_runtime_is_refused():
    runtime = {"modelFormat": {"name": "pytorch"}, "protocolVersion": "v1", "storageUri": "s3://b/m"}
    doc = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "spec": {"predictor": {"model": runtime}},
    }
    problems = "\n".join(shape_problems(doc))
    assert "serving runtime" in problems and "kserve-container" in problems

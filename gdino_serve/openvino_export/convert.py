"""Convert an rf-groundingdino checkpoint to the OpenVINO IR folder the ``openvino`` back end reads.

Two graphs (``graph.py``), FP32 weights on disk (``compress_to_fp16=False``; OpenVINO would halve them
by default), and ``model.json`` beside them (``handler/backends/openvino/model_files.py``):

* the image graph through OpenVINO's TorchScript path, with dynamic H and W: ``torch.export`` of the
  Swin size arithmetic does not finish (over 15 minutes in sympy), while a trace of the branch-free
  Swin keeps every size symbolic. A check at another, odd size compares it with the eager graph;
* the caption graph through ``torch.export`` with dynamic level sizes and token count.

One IR serves every image size and caption length. It takes minutes (for the full Swin-T
on 2 cores: 2 when idle, up to 6 under load) and a few GB of memory, so it runs once per checkpoint, in its own process,
when the model store is built (``gdino_serve/model_store_cache.py``), never in the worker.
``--int8`` instead makes an nncf INT8 weight-compressed copy of a converted folder (lossy).

    python -m gdino_serve.openvino_export.convert --checkpoint W.pth --config C.py --out DIR
    python -m gdino_serve.openvino_export.convert --int8 --source FP32_DIR --out DIR
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import torch

from gdino_serve.openvino_export import stack_versions
from gdino_serve.openvino_export.graph import CaptionGraph, ImageGraph, check_supported, check_upstream
from handler.backends.openvino.caption_inputs import caption_inputs
from handler.backends.openvino.model_files import (
    CAPTION_XML,
    IMAGE_XML,
    TEXT_INPUTS,
    ModelFacts,
)

logger = logging.getLogger("openvino_export")

EXAMPLE_SIZE = (800, 1333)  # the trace's image: the service's default model input
CHECK_SIZE = (157, 203)  # another size, odd at every Swin stage, that the image IR is checked at
EXAMPLE_CAPTION = "person . dog . cat . car . bicycle . traffic light . chair ."
IMAGE_TOLERANCE = 1e-3  # image IR vs eager graph, largest absolute difference of any map (measured: 1e-5)
MAX_LEVEL_SIZE = 2048  # dynamic level height and width bound of the caption export


def _steps() -> Any:
    """A logger of elapsed seconds per step: the conversion takes minutes."""
    last = [time.monotonic()]

    def step(message: str, *args: Any) -> None:
        now = time.monotonic()
        logger.info(f"{message} (%.0f s)", *args, now - last[0])
        last[0] = now

    return step


def _save(model: Any, path: Path) -> None:
    import openvino as ov

    ov.save_model(model, path, compress_to_fp16=False)


def image_ir(model: torch.nn.Module, example: torch.Tensor) -> Any:
    """The image graph as an OpenVINO model with dynamic H and W (TorchScript path)."""
    import openvino as ov

    return ov.convert_model(ImageGraph(model), example_input=example, input=[ov.PartialShape([1, 3, -1, -1])])


def check_image_ir(ir: Any, model: torch.nn.Module) -> float:
    """The converted image graph's largest difference to the eager one at ``CHECK_SIZE``."""
    import openvino as ov

    from handler.backends.openvino.detector import cpu_config

    image = torch.randn(1, 3, *CHECK_SIZE, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        expected = ImageGraph(model)(image)
    outputs = ov.Core().compile_model(ir, "CPU", cpu_config(torch.get_num_threads())).create_infer_request()
    found = outputs.infer([image.numpy()])
    shapes = [tuple(found[index].shape) for index in range(len(expected))]
    if shapes != [tuple(map.shape) for map in expected]:
        raise RuntimeError(f"the image IR gives maps of {shapes} at {CHECK_SIZE}, the eager graph other shapes")
    worst = max(float((torch.from_numpy(found[i]) - map).abs().max()) for i, map in enumerate(expected))
    if worst > IMAGE_TOLERANCE:
        raise RuntimeError(f"the image IR differs from the eager graph by {worst:.3g} at {CHECK_SIZE}")
    return worst


def caption_ir(model: torch.nn.Module, maps: tuple[torch.Tensor, ...], text: tuple[torch.Tensor, ...]) -> Any:
    """The caption graph as an OpenVINO model, dynamic in every level's size and the token count."""
    import openvino as ov
    from torch.export import Dim, export

    levels = [
        {2: Dim(f"h{i}", min=1, max=MAX_LEVEL_SIZE), 3: Dim(f"w{i}", min=1, max=MAX_LEVEL_SIZE)} for i in range(4)
    ]
    tokens = Dim("tokens", min=2, max=model.max_text_len)
    text_dims = ({1: tokens}, {1: tokens}, {1: tokens}, {1: tokens, 2: tokens}, {1: tokens})
    program = export(CaptionGraph(model), (*maps, *text), dynamic_shapes=(*levels, *levels, *text_dims), strict=False)
    ir = ov.convert_model(program)
    # An ExportedProgram converts with every dimension dynamic: pin the batch of one and the channels.
    channels = maps[0].shape[1]
    shapes = [ov.PartialShape([1, channels, -1, -1])] * len(maps)
    shapes += [
        ov.PartialShape([1, -1, -1]) if name == "text_self_attention_masks" else ov.PartialShape([1, -1])
        for name in TEXT_INPUTS
    ]
    ir.reshape(dict(zip(ir.inputs, shapes)))
    return ir


def convert(checkpoint: Path, config: Path, bert_dir: Path, out: Path, source: dict[str, Any]) -> ModelFacts:
    """Write the IR folder ``out`` for ``checkpoint`` (architecture ``config``); ``source`` goes into model.json."""
    from handler.backends.upstream.detector import feature_strides
    from handler.backends.upstream.model_loader import load_model

    step = _steps()
    check_upstream()
    model = load_model(config, checkpoint, bert_dir, torch.device("cpu"))
    check_supported(model)
    model.requires_grad_(False)
    step("loaded %s (%s)", checkpoint.name, config.name)
    example = torch.randn(1, 3, *EXAMPLE_SIZE, generator=torch.Generator().manual_seed(0))
    image = image_ir(model, example)
    step("image graph converted (dynamic H and W)")
    step("image graph checked at %dx%d: largest difference to eager %.2g", *CHECK_SIZE, check_image_ir(image, model))
    out.mkdir(parents=True, exist_ok=True)
    _save(image, out / IMAGE_XML)
    del image
    with torch.inference_mode():
        maps = ImageGraph(model)(example)
    text = caption_inputs(model.tokenizer, EXAMPLE_CAPTION, model.max_text_len)
    caption = caption_ir(model, maps, text)
    step("caption graph exported and converted (dynamic level sizes and token count)")
    _save(caption, out / CAPTION_XML)
    facts = ModelFacts(
        max_text_len=model.max_text_len,
        num_queries=model.num_queries,
        feature_strides=feature_strides(model),
        feature_levels=model.num_feature_levels,
        weights="float32",
        openvino=version("openvino"),
        source={**source, **stack_versions()},
    )
    facts.write(out)
    step("saved %s (%.0f MB)", out, sum(path.stat().st_size for path in out.iterdir()) / 1e6)
    return facts


def compress_int8(source: Path, out: Path) -> ModelFacts:
    """An nncf INT8 weight-compressed copy (INT8_ASYM, per channel) of the converted folder ``source``."""
    import nncf
    import openvino as ov

    step = _steps()
    core = ov.Core()
    out.mkdir(parents=True, exist_ok=True)
    for xml in (IMAGE_XML, CAPTION_XML):
        _save(nncf.compress_weights(core.read_model(source / xml)), out / xml)
        step("%s: weights compressed to INT8", xml)
    facts = dataclasses.replace(ModelFacts.read(source), weights="int8")
    facts.write(out)
    return facts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--bert-dir", type=Path)
    parser.add_argument("--checkpoint-sha256", default="", help="recorded in model.json")
    parser.add_argument("--int8", action="store_true", help="compress the weights of the --source folder")
    parser.add_argument("--source", type=Path, help="a converted FP32 folder (with --int8)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.int8:
        compress_int8(args.source, args.out)
        return
    from gdino_serve.paths import BERT_DIR

    source = {
        "checkpoint": args.checkpoint.name,
        "checkpoint_sha256": args.checkpoint_sha256,
        "config": args.config.name,
    }
    convert(args.checkpoint, args.config, args.bert_dir or BERT_DIR, args.out, source)


if __name__ == "__main__":
    main()

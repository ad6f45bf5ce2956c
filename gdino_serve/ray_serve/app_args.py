"""The application's ``args`` (a Serve config's ``applications[].args``): which model, how to serve it.

Unknown keys are refused when the application is built, so a typo fails the deploy instead of
passing silently (Serve's own schema accepts any ``args``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gdino_serve.ray_serve.model_source import ReplicaModel, linked_model, model_files, store_model
from handler.contract import defaults


@dataclass(frozen=True)
class AppArgs:
    """Every application argument and its default (deploy/ray/serve-config.yaml documents them)."""

    model_store: str | None = None  # a cached model store folder (what gdino-serve builds)
    checkpoint: str | None = None  # else an rf-groundingdino checkpoint, with model_config
    model_config: str = defaults.MODEL_CONFIG  # relative to the checkout, or absolute
    hf_model: str | None = None  # else a Hugging Face model folder (transformers back end)
    model_name: str = defaults.MODEL_NAME  # the name in the URL paths
    handler: dict[str, Any] = field(default_factory=dict)  # overrides of model-config.yaml's handler: section
    cpu_threads: int = 0  # torch threads per CPU replica; 0: the CPUs Ray assigned it (at least 1)
    retries: int = 1  # the gateway's second tries on another replica when one dies mid-request

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> AppArgs:
        values = dict(values or {})
        known = {item.name for item in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown application args: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        if values.get("model_store") and (values.get("checkpoint") or values.get("hf_model")):
            raise ValueError("give model_store, or checkpoint/hf_model, not both")
        return cls(**values)

    def as_mapping(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@contextmanager
def replica_model(args: AppArgs) -> Iterator[ReplicaModel]:
    """The model ``args`` names, ready to load for the length of the ``with`` block."""
    if args.model_store:
        yield store_model(Path(args.model_store), args.model_name, args.handler)
        return
    files = model_files(args.checkpoint, args.model_config, args.hf_model)
    with linked_model(files, args.model_name, args.handler) as model:
        yield model

"""The thin TorchServe adapter, driven with a fake context: statuses per request, device, threads."""

from __future__ import annotations

import pytest
import torch

from handler.core.settings import HandlerSettings
from handler.frontends.device import cpu_threads_per_worker, select_device


def test_cpu_is_used_when_no_gpu_is_assigned():
    assert select_device(None) == torch.device("cpu")


def test_cpu_threads_are_split_between_workers():
    assert cpu_threads_per_worker(1, cores=16) == 16
    assert cpu_threads_per_worker(4, cores=16) == 4
    assert cpu_threads_per_worker(4, cores=2) == 1


def test_unknown_handler_setting_is_refused_at_start_up():
    with pytest.raises(ValueError, match="resize_shrot"):
        HandlerSettings.from_mapping({"resize_shrot": 640})


def test_handler_settings_from_yaml_are_typed():
    settings = HandlerSettings.from_mapping({"resize_short": "640", "box_threshold": "0.5", "warmup": 0})
    assert settings.resize_short == 640 and settings.box_threshold == 0.5 and settings.warmup is False

"""Model loading: official checkpoint format, clear failures, BERT never loaded from the hub."""

from __future__ import annotations

import pytest
import torch

from handler.backends.upstream.model_loader import CheckpointError, read_checkpoint


def test_file_that_is_not_a_checkpoint_dict_is_refused(tmp_path):
    path = tmp_path / "list.pth"
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="expected a dict"):
        read_checkpoint(path)

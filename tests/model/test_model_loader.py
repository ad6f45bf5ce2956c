"""Building GroundingDINO from its configs: BERT from the config only, inference settings, Swin-B."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from gdino_serve.paths import BERT_DIR, MODEL_CONFIGS, TINY_CONFIG
from handler.backends.upstream.model_loader import CheckpointError, build_model, load_weights, read_checkpoint


@pytest.fixture(scope="module")
def tiny_state(tiny_checkpoint: Path) -> dict[str, torch.Tensor]:
    return read_checkpoint(tiny_checkpoint)


def test_checkpoint_is_in_official_format_with_module_prefix(tiny_checkpoint):
    raw = torch.load(tiny_checkpoint, map_location="cpu", weights_only=True)
    assert set(raw) >= {"model"}
    assert all(key.startswith("module.") for key in raw["model"])


def test_read_checkpoint_strips_module_prefix(tiny_state):
    assert tiny_state and not any(key.startswith("module.") for key in tiny_state)
    assert "bert.embeddings.word_embeddings.weight" in tiny_state


def test_loaded_weights_equal_the_checkpoint(tiny_state):
    model = build_model(TINY_CONFIG, BERT_DIR)
    load_weights(model, tiny_state, Path("tiny.pth"))
    loaded = model.state_dict()
    for key in ("bert.encoder.layer.0.attention.self.query.weight", "transformer.tgt_embed.weight"):
        assert torch.equal(loaded[key], tiny_state[key])


def test_shape_mismatch_names_the_file_and_the_key(tiny_state):
    model = build_model(TINY_CONFIG, BERT_DIR)
    broken = dict(tiny_state)
    broken["transformer.tgt_embed.weight"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match=r"broken\.pth.*transformer\.tgt_embed\.weight"):
        load_weights(model, broken, Path("broken.pth"))


def test_missing_and_unexpected_keys_are_logged(tiny_state, caplog):
    model = build_model(TINY_CONFIG, BERT_DIR)
    partial = {k: v for k, v in tiny_state.items() if k != "feat_map.bias"}
    partial["bert.embeddings.position_ids"] = torch.arange(512)[None]
    with caplog.at_level(logging.WARNING):
        load_weights(model, partial, Path("partial.pth"))
    assert "missing keys" in caplog.text and "feat_map.bias" in caplog.text
    assert "unexpected keys" in caplog.text and "position_ids" in caplog.text


def test_bert_is_never_loaded_with_from_pretrained(monkeypatch):
    from transformers import BertModel

    def refuse(*args, **kwargs):
        raise AssertionError("BertModel.from_pretrained must not be called")

    monkeypatch.setattr(BertModel, "from_pretrained", refuse)
    model = build_model(TINY_CONFIG, BERT_DIR)
    assert model.bert.config.vocab_size == 30522


def test_inference_build_turns_off_activation_checkpointing():
    model = build_model(TINY_CONFIG, BERT_DIR)
    assert model.transformer.encoder.use_checkpoint is False
    assert model.transformer.encoder.use_transformer_ckpt is False


def test_swin_b_config_builds_the_swin_b_backbone():
    model = build_model(MODEL_CONFIGS / "GroundingDINO_SwinB_cfg.py", BERT_DIR)
    swin = model.backbone[0]
    assert swin.embed_dim == 128 and swin.num_layers == 4  # Swin-B; Swin-T has 96
    assert 200e6 < sum(p.numel() for p in model.parameters()) < 260e6  # ~233M; Swin-T ~173M

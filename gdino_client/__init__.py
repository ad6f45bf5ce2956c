"""Batch annotation client: a folder of images to COCO, Label Studio, YOLO, JSONL and annotated
pictures, through the service's REST API only (``gdino-annotate`` is its command line)."""

from gdino_client.runner import AnnotateOptions, annotate, run
from gdino_client.summary import Summary

__all__ = ["AnnotateOptions", "Summary", "annotate", "run"]

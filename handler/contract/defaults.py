"""Every default of the service, stated once; torch-free so the client, scripts and tests can read it."""

from __future__ import annotations

MODEL_NAME = "groundingdino"  # the name the model is registered and served under
MODEL_CONFIG = "model_config/GroundingDINO_SwinT_OGC.py"  # default architecture (official Swin-T OGC)
BERT_DIR = "bert-base-uncased"
BACKEND = "upstream"  # which model back end serves (handler.backends)

BOX_THRESHOLD = 0.35
TEXT_THRESHOLD = 0.25
MAX_DETECTIONS = 100  # per response, for requests that do not send 'max_detections'
MAX_DETECTIONS_LIMIT = 1000  # the largest 'max_detections' a request may ask for

HOST = "127.0.0.1"
INFERENCE_PORT = 8080
MANAGEMENT_PORT = 8081
METRICS_PORT = 8082
INFERENCE_URL = f"http://{HOST}:{INFERENCE_PORT}"

"""Every default of the service, stated once; torch-free so the client, the serving package and tests read it."""

from __future__ import annotations

MODEL_NAME = "groundingdino"  # the name the model is registered and served under
# Label Studio predictions' model_version where nothing else names the model (gdino-annotate's import; the
# ML backend follows the title a project connected it under, which Label Studio makes the project's version).
PREDICTIONS_MODEL_VERSION = MODEL_NAME
MODEL_VERSION = "1.0"  # the archive's version, as KServe v2 answers state it
MODEL_CONFIG = "model_config/GroundingDINO_SwinT_OGC.py"  # default architecture (official Swin-T OGC)
BERT_DIR = "bert-base-uncased"
BACKEND = "upstream"  # which model back end serves (handler.backends)
CHECKPOINT_BACKENDS = ("upstream", "openvino")  # the back ends that serve an rf-groundingdino checkpoint
OPENVINO_WEIGHTS = ("float32", "int8")  # the openvino back end's IR weights: as trained, or nncf INT8 (lossy)
OPENVINO_DEFAULT_WEIGHTS = "float32"  # lossless: the same answers as the upstream back end

BOX_THRESHOLD = 0.35
TEXT_THRESHOLD = 0.25
MAX_DETECTIONS = 100  # per response, for requests that do not send 'max_detections'
MAX_DETECTIONS_LIMIT = 1000  # the largest 'max_detections' a request may ask for
MAX_CLASSES_PER_CHUNK = (
    256  # the largest 'classes_per_chunk' (no chunk can hold more classes than the model has tokens)
)
PROMPT_CACHE_MB = 256  # prompt encodings kept per model worker (handler setting prompt_cache_mb; 0: none)

MASK_FORMAT = "rle"  # 'mask_format' of requests that ask for masks: COCO RLE ("rle") or polygons ("polygon")
MASK_THRESHOLD = 0.5  # mask probability a pixel must exceed (SAM's logit 0)
MAX_MASK_BOXES = 100  # boxes segmented per request at most (a request asking for more is refused)
MASK_BACKEND = "sam"  # which mask back end reads the mask model folder (handler.backends)

# Model input size: short side, long side at most (the reference's T.RandomResize([800], max_size=1333)).
RESIZE_SHORT = 800
RESIZE_MAX = 1333

HOST = "127.0.0.1"
# One port per server, so no two of them ever meet on one address.
INFERENCE_PORT = 8080  # TorchServe inference API
MANAGEMENT_PORT = 8081  # TorchServe management API
METRICS_PORT = 8082  # TorchServe metrics (Prometheus)
RAY_SERVE_PORT = 8000  # Ray Serve's HTTP proxy (gdino-serve --engine ray; Ray Serve's own convention)
PLAYGROUND_PORT = 8090  # gdino-playground
LABEL_STUDIO_PORT = 8200  # Label Studio (scripts/labelstudio_runner; its own default, 8080, is TorchServe's)
LABEL_STUDIO_BACKEND_PORT = 9090  # gdino-labelstudio-backend (Label Studio's ML backend convention)
INFERENCE_URL = f"http://{HOST}:{INFERENCE_PORT}"
# The largest request body (a base64 12-megapixel JPEG is ~10 MB): config.properties' max_request_size
# for TorchServe (a test keeps them equal), the gateway's limit on Ray Serve.
MAX_REQUEST_BYTES = 64 * 1024 * 1024

CLIENT_TIMEOUT_S = 120.0  # seconds a client waits for one detection request

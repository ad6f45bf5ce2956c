# GroundingDINO served by TorchServe on a GPU host.
#   docker build -t groundingdino-serve .
#   docker run --gpus all -p 127.0.0.1:8080:8080 -v "$PWD/weights:/app/weights" groundingdino-serve
# The PyPI torch wheel brings its own CUDA 13 libraries; the host needs an NVIDIA driver >= 580
# and the NVIDIA Container Toolkit. Weights are downloaded into the mounted weights/ on first start.
FROM nvidia/cuda:13.0.0-runtime-ubuntu22.04

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHON=python3.11

RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        python3.11 python3.11-venv openjdk-17-jre-headless ca-certificates \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 model-server
WORKDIR /app
RUN chown model-server /app
USER 1000

# Dependencies first, so code changes do not reinstall them.
COPY --chown=1000 requirements.txt requirements-test.txt ./
COPY --chown=1000 scripts/setup_env.sh scripts/setup_env.sh
RUN bash scripts/setup_env.sh requirements.txt

COPY --chown=1000 . .

# Inference listens on all interfaces inside the container; management and metrics stay on loopback.
ENV PATH=/app/.venv/bin:$PATH \
    BIND_ADDRESS=0.0.0.0
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=600s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/ping', timeout=4)"]
CMD ["bash", "scripts/serve.sh"]

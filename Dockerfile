# syntax=docker/dockerfile:1
# GroundingDINO served by TorchServe on GPU (or CPU) hosts. README, "Container", has the details.
#   docker build -t groundingdino-serve .
#   docker run --gpus all -p 127.0.0.1:8080:8080 -v "$PWD/weights:/app/weights" \
#     -v groundingdino-cache:/cache groundingdino-serve
# The same image serves with Ray Serve (-e SERVE_ENGINE=ray, port 8000), or runs as a node of a Ray
# cluster: `ray start --head --block ...` / `ray start --address=<head>:6379 --block` as its command
# (KubeRay does this itself: deploy/ray/rayservice.yaml). docs/scaling.md has the commands.
#
# Base: Debian 12 slim. The PyPI torch wheel brings its own CUDA 13 libraries (the nvidia-* wheels;
# the host needs an NVIDIA driver >= 580 and the NVIDIA Container Toolkit; older drivers:
# --build-arg TORCH_CUDA=cu126, below), so a CUDA base image
# would only add a second copy of them; Debian 12 has Python 3.11 and OpenJDK 17 as packages.
# The tests build on the same Debian made locally with debootstrap (gdino_serve/container.py).
ARG BASE_IMAGE=docker.io/library/debian:bookworm-slim
FROM ${BASE_IMAGE}

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHON=python3.11

WORKDIR /app
# Every download step is retried when a connection drops (scripts/retry_downloads.sh).
COPY scripts/retry_downloads.sh scripts/retry_downloads.sh

# tini is PID 1: it forwards SIGTERM to the serve command and reaps TorchServe's exited workers.
# The X11/GL libraries are what opencv-python (required by rf-groundingdino) links against;
# KubeRay's health probes of a Ray node run wget.
RUN bash -euc 'source scripts/retry_downloads.sh \
    && apt_install python3.11 python3.11-venv openjdk-17-jre-headless ca-certificates tini wget \
        libgl1 libsm6 libice6 libxext6 libx11-6 libxcb1' \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --create-home --uid 1000 model-server

# Dependencies first, so code changes do not reinstall them. Code and venv belong to root: the
# server (uid 1000) can read them, not change them. The pip cache lives outside the image
# (a build cache mount; gdino_serve/container.py points PIP_CACHE_DIR at the host's pip cache).
COPY requirements-client.txt requirements.txt requirements-test.txt requirements-labelstudio.txt ./
COPY scripts/setup_env.sh scripts/torch_cuda.sh scripts/
ARG PIP_CACHE_DIR=/root/.cache/pip
# The CUDA build of torch: cu130 (default, PyPI's wheel) needs an NVIDIA driver >= 580; cu128 (>= 570)
# or cu126 (>= 525) installs PyTorch's CUDA 12 build of the same torch (docs/serving.md, "Older NVIDIA drivers").
ARG TORCH_CUDA=cu130
RUN --mount=type=cache,target=/root/.cache/pip \
    TORCH_CUDA="${TORCH_CUDA}" PIP_CACHE_DIR="${PIP_CACHE_DIR}" bash scripts/setup_env.sh serve

# The serving code only (.dockerignore keeps tests, docs and the client out), installed in place:
# gdino-serve. The model store is built on first start into /cache (a volume), once per
# checkpoint; weights/ takes the mounted checkpoint or the downloaded one.
COPY . .
RUN --mount=type=cache,target=/root/.cache/pip \
    TORCH_CUDA="${TORCH_CUDA}" PIP_CACHE_DIR="${PIP_CACHE_DIR}" bash scripts/setup_env.sh serve \
    && .venv/bin/python -m scripts.setup_bert --offline \
    && mkdir -p /cache weights \
    && chown 1000:1000 /cache weights

# Inference listens on all interfaces inside the container; management and metrics stay on loopback.
ENV PATH=/app/.venv/bin:$PATH \
    BIND_ADDRESS=0.0.0.0 \
    MODEL_STORE_CACHE=/cache \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
VOLUME ["/cache"]
USER 1000
# 8080 TorchServe; 8000 Ray Serve; a Ray head also listens on 6379 (GCS) and 8265 (dashboard).
EXPOSE 8080 8000 6379 8265
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=10s --start-period=600s CMD ["python", "-m", "gdino_serve.healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gdino-serve"]

#!/usr/bin/env bash
# Which CUDA build of torch the venv gets (TORCH_CUDA; sourced by scripts/setup_env.sh, set by the
# Dockerfile's build argument of the same name; docs/serving.md, "Older NVIDIA drivers"):
#   cu130 (default)  PyPI's torch wheel, built with CUDA 13.0: NVIDIA driver 580 or newer, Turing or newer GPUs
#   cu128            PyTorch's CUDA 12.8 build of the same version: driver 570 or newer, Turing to Blackwell
#   cu126            PyTorch's CUDA 12.6 build of the same version: driver 525 or newer, Maxwell to Hopper
# `torch_index_url TORCH_CUDA` prints the package index of that build, nothing for the default;
# it fails on any other value.
torch_index_url() {
  case "${1:-cu130}" in
    cu130) ;;
    cu126 | cu128) echo "https://download.pytorch.org/whl/$1" ;;
    *)
      echo "setup: TORCH_CUDA=$1 is not one of cu130 (default), cu128, cu126 (docs/serving.md)" >&2
      return 1
      ;;
  esac
}

"""``torch.compile`` of the upstream model's heavy parts (the ``compile_mode`` setting; off by default).

The Swin backbone (most of the arithmetic at 800 px; one graph) and the transformer (encoder,
query selection and decoder; its deformable attention reads feature sizes from a tensor, so it
compiles in several graphs) are compiled in place with ``nn.Module.compile``: the tokenizer, the
prompt masks and BERT stay eager, and every patch (exact batching, float32 islands) is traced as it
is. Compilation happens at the first call of each new input shape (the worker's warm-up call
compiles the first one), and ``reduce-overhead`` records CUDA graphs per shape, so this pays off
for traffic of few image sizes. Off by default: the first call of each shape takes minutes.
"""

from __future__ import annotations

from torch import nn

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
COMPILED_PARTS = ("backbone", "transformer")


def check_compile_mode(mode: str) -> None:
    """A ValueError (a start-up configuration error) unless ``mode`` is "" (off) or a torch.compile mode."""
    if mode and mode not in COMPILE_MODES:
        raise ValueError(f"handler setting compile_mode={mode!r} is not one of '' (off), {', '.join(COMPILE_MODES)}")


def compile_model(
    model: nn.Module, mode: str, parts: tuple[str, ...] = COMPILED_PARTS, backend: str = "inductor"
) -> None:
    """Compile ``parts`` of ``model`` in place (lazily: each compiles at its first call)."""
    check_compile_mode(mode)
    for name in parts:
        model.get_submodule(name).compile(mode=mode, backend=backend)

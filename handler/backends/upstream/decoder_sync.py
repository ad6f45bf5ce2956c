"""The upstream decoder without its per-layer NaN/Inf print: no host synchronisation per layer.

``TransformerDecoder.forward`` (rf-groundingdino 0.3.0) ends every layer with
``if output.isnan().any() | output.isinf().any(): print(...)``. The ``if`` needs the answer on the
host, so on CUDA each of the 6 layers waits for the GPU to finish before the next layer is even
queued. The block only prints; nothing reads its result. The replacement is the upstream function
recompiled from its own source with that one ``if`` statement removed (no copy of upstream code
lives here): the same operations in the same order, so answers are bitwise the same.

It is installed on one model's decoder (the ``sync_free_decoder`` setting), after checking the
upstream function's source fingerprint (see ``patching``).
"""

from __future__ import annotations

import ast
import inspect
import sys
import textwrap
import types
from collections.abc import Callable
from typing import Any

from torch import nn

from handler.backends.patching import check_fingerprint

# Source fingerprint of rf-groundingdino 0.3.0's TransformerDecoder.forward.
DECODER_FORWARD = "f2c1da3c2e44a712"


def _checks_nan(statement: ast.stmt) -> bool:
    """An ``if`` whose condition calls ``.isnan()``."""
    return isinstance(statement, ast.If) and any(
        isinstance(node, ast.Attribute) and node.attr == "isnan" for node in ast.walk(statement.test)
    )


class _DropNanChecks(ast.NodeTransformer):
    def __init__(self) -> None:
        self.removed = 0

    def visit_If(self, node: ast.If) -> Any:
        if _checks_nan(node):
            self.removed += 1
            return None
        return self.generic_visit(node)


def without_nan_checks(function: Callable[..., Any]) -> types.FunctionType:
    """``function`` recompiled from its source without its ``if ...isnan()...`` statements
    (same globals, same file and line numbers in tracebacks); a ValueError if it has none."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    ast.increment_lineno(tree, function.__code__.co_firstlineno - 1)
    dropper = _DropNanChecks()
    tree = ast.fix_missing_locations(dropper.visit(tree))
    if dropper.removed == 0:
        raise ValueError(f"{function.__qualname__} has no NaN check to remove")
    namespace: dict[str, Any] = {}
    module_globals = sys.modules[function.__module__].__dict__
    exec(compile(tree, inspect.getsourcefile(function) or "<upstream>", "exec"), module_globals, namespace)
    replacement = namespace[function.__name__]
    replacement.__qualname__ = function.__qualname__
    return replacement


def apply_to_model(model: nn.Module) -> None:
    """Run ``model``'s decoder without the per-layer NaN print (this model only; idempotent)."""
    decoder = model.transformer.decoder
    if "forward" in vars(decoder):
        return
    upstream = type(decoder).forward
    check_fingerprint(upstream, DECODER_FORWARD)
    decoder.forward = types.MethodType(without_nan_checks(upstream), decoder)

"""The HTTP reason phrase TorchServe sends with an error reply."""

from __future__ import annotations


def status_phrase(message: str, limit: int = 200) -> str:
    """The HTTP reason phrase for an error reply: printable ASCII only, at most ``limit`` characters.

    TorchServe 0.12's worker protocol frames the phrase with its length in characters but sends
    it as UTF-8, so one non-ASCII character (an echoed field name, say) desynchronises the front
    end, which then waits for the batch until ``responseTimeout`` and restarts the worker. The
    JSON body keeps the full message.
    """
    ascii_text = message.encode("ascii", "backslashreplace").decode("ascii")
    printable = "".join(char if " " <= char <= "~" else " " for char in ascii_text)
    return printable if len(printable) <= limit else printable[: limit - 3] + "..."

"""Where a command's report goes: standard output, or a file written whole or not at all."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from golive.errors import UsageError


def write_output(text: str, path: str | None) -> None:
    """Write a report whole or not at all: a temporary file in the same folder, then a rename."""
    if path is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    target = Path(path)
    if not target.parent.is_dir():
        raise UsageError(f"--output {path}: folder {target.parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as err:
        raise UsageError(f"{path}: cannot write there: {err.strerror or err}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, target)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):  # a folder by that name, a full disk: one line, not a traceback
            raise UsageError(f"{path}: cannot write: {err.strerror or err}") from None
        raise

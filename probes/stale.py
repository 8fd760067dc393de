"""Private probe directories (/tmp/advisor-probe-<pid>-*) and the clean-up of those whose
owning process is gone (a server killed during a run leaves its directory behind)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import psutil

PREFIX = "advisor-probe-"


def prefix_for_this_process() -> str:
    """Return the directory prefix that names this process as the owner."""
    return f"{PREFIX}{os.getpid()}-"


def clean_stale_dirs(root: Path | None = None) -> list[Path]:
    """Remove probe directories whose owning process is dead; return what was removed.

    Only directories named with an owner pid are considered, and only when that pid no
    longer runs; a live owner (or a recycled pid) keeps its directory, to be safe."""
    root = Path(root or tempfile.gettempdir())
    removed = []
    for path in root.glob(PREFIX + "*"):
        pid_text = path.name[len(PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or not path.is_dir() or path.is_symlink():
            continue
        try:
            if path.stat().st_uid != os.getuid():
                continue
        except OSError:
            continue
        if psutil.pid_exists(int(pid_text)):
            continue
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            removed.append(path)
    return removed

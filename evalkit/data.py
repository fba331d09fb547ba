"""Finding benchmark data: a local folder in the released formats first, then the hub.

``--data-dir`` (or ``$EVALKIT_DATA_DIR``) names a folder holding the files as their authors
released them; each task says which relative paths it looks for. Without them, tasks load the
hub copy with ``datasets``; when neither is reachable the error says how to provide the data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.task import DATA_DIR_ENV


def local_file(*candidates: str) -> Path | None:
    """The first of ``candidates`` (paths relative to the data folder) that exists."""
    folder = os.environ.get(DATA_DIR_ENV)
    if not folder:
        return None
    for candidate in candidates:
        path = Path(folder) / candidate
        if path.exists():
            return path
    return None


def _datasets(task: str) -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise EvalkitError(f"{task} needs `datasets`: pip install datasets") from exc
    return datasets


def load_json_rows(task: str, path: Path) -> list[Any]:
    """Rows of a local JSON Lines file (plain or gzipped), read with ``datasets``."""
    data = _datasets(task).load_dataset("json", data_files=str(path), split="train")
    return [dict(row) for row in data]


def load_hub(task: str, path: str, name: str | None, split: str, expected: str) -> list[Any]:
    """Rows of a hub dataset, or one clear error naming the local files that would do."""
    datasets = _datasets(task)
    try:
        data = datasets.load_dataset(path, name, split=split)
    except Exception as exc:
        raise EvalkitError(
            f"{task}: no data: put {expected} in --data-dir (or ${DATA_DIR_ENV}), or be online "
            f"for the hub copy {path} ({type(exc).__name__})"
        ) from exc
    return [dict(row) for row in data]

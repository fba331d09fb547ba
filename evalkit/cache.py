"""An on-disk response cache (SQLite), so that a re-run or a resumed run pays nothing twice.

The key covers the provider, model, server, prompt style, every generation parameter, the
sample as the model sees it and the sample index (so that n samples per problem stay n
different draws). SQLite in WAL mode takes concurrent writers from several evalkit processes,
and a process killed in the middle of a write leaves the cache as it was before that write.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path

from evalkit.records import Completion, GenerationRequest
from evalkit.runner import Runner

CACHE_ENV = "EVALKIT_CACHE_DIR"


def default_cache_path() -> Path:
    root = os.environ.get(CACHE_ENV) or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "evalkit"
    )
    return Path(root) / "responses.sqlite"


def cache_key(runner: Runner, request: GenerationRequest) -> str:
    material = {
        "provider": runner.model.provider,
        "model": runner.model.model_id,
        "server": runner.describe().get("base_url"),
        "style": request.style,
        "params": request.params.model_dump(mode="json"),
        "sample": request.sample.model_dump(mode="json", exclude={"reference"}),
        "sample_index": request.sample_index,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


class ResponseCache:
    """Completions by request key. Only successful completions are stored."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_cache_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            self.path, timeout=60, check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, completion TEXT NOT NULL)"
        )

    def get(self, key: str) -> Completion | None:
        with self._lock:
            row = self._db.execute(
                "SELECT completion FROM responses WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        completion = Completion.model_validate_json(row[0])
        completion.metadata = {**completion.metadata, "cache_hit": True}
        return completion

    def put(self, key: str, completion: Completion) -> None:
        if completion.error is not None:
            return
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses (key, completion) VALUES (?, ?)",
                (key, completion.model_dump_json()),
            )

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()

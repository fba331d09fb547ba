"""Typed registries of tasks and runners, filled from entry points.

First-party plugins (``evalkit_tasks``, ``evalkit_runners``) are discovered exactly like a
third party's: through the ``evalkit.tasks`` and ``evalkit.runners`` entry-point groups.
Listing names reads package metadata only; a plugin's module is imported when it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Generic, TypeVar

from evalkit.errors import EvalkitError, did_you_mean

T = TypeVar("T")


class Registry(Generic[T]):
    """Names mapped to plugin objects, from one entry-point group plus explicit registrations."""

    def __init__(self, group: str, kind: str) -> None:
        self.group = group
        self.kind = kind
        self._explicit: dict[str, T] = {}
        self._loaded: dict[str, T] = {}

    def _entry_points(self) -> dict[str, EntryPoint]:
        return {ep.name: ep for ep in entry_points(group=self.group)}

    def names(self) -> list[str]:
        return sorted(set(self._entry_points()) | set(self._explicit))

    def register(self, name: str, obj: T) -> None:
        """Add a plugin by hand (notebooks and tests); it shadows an entry point of that name."""
        self._explicit[name] = obj

    def unregister(self, name: str) -> None:
        self._explicit.pop(name, None)

    def __contains__(self, name: str) -> bool:
        return name in self._explicit or name in self._entry_points()

    def get(self, name: str) -> T:
        if name in self._explicit:
            return self._explicit[name]
        if name in self._loaded:
            return self._loaded[name]
        eps = self._entry_points()
        if name not in eps:
            raise EvalkitError(f"unknown {self.kind} {name!r}{did_you_mean(name, self.names())}")
        try:
            obj: T = eps[name].load()
        except ImportError as exc:
            raise EvalkitError(f"{self.kind} {name!r} cannot be loaded: {exc}") from exc
        self._loaded[name] = obj
        return obj


def describe(obj: Callable[..., Any]) -> str:
    """The first line of a plugin's docstring."""
    doc = (obj.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else ""


TASKS: Registry[Any] = Registry("evalkit.tasks", "task")
RUNNERS: Registry[Any] = Registry("evalkit.runners", "runner")

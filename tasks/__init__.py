"""evalkit's first-party tasks, registered through the ``evalkit.tasks`` entry points."""

"""evalkit's first-party runners, registered through the ``evalkit.runners`` entry points."""

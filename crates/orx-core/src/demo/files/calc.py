"""A tiny calculator used by the orx demo."""


def sub(a, b):
    """Return a minus b."""
    return a - b

"""Exceptions shared by every layer. Front ends map them to messages and exit codes."""

from __future__ import annotations


class LumafuseError(Exception):
    """Base class: the message is written for the user, one line, naming the file and problem."""


class InputError(LumafuseError):
    """Bad input from the user: unreadable or mismatched files, bad parameters (CLI exit 2)."""


class OutputError(LumafuseError):
    """An output cannot be written: exists, equals an input, folder not writable (CLI exit 2)."""


class WeightsError(LumafuseError):
    """Model weights missing, corrupt or failing their hash check."""


class MethodUnavailable(LumafuseError):
    """The method exists but cannot run here (missing dependency or weights)."""


class Cancelled(LumafuseError):
    """The user cancelled the task (CLI exit 130)."""

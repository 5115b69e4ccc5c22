"""Exceptions whose messages are shown to specialists and operators as they are."""


class WardenError(Exception):
    """Base class: the message says what went wrong and what to do next."""


class ConfigError(WardenError):
    """A setting is missing, a placeholder, or inconsistent."""


class InputError(WardenError):
    """A file, argument or request could not be used; nothing stored was changed."""


class NotFoundError(WardenError):
    """An id (case, proposal, escalation, section) does not exist."""


class PolicyError(WardenError):
    """A policy document or catalogue entry is invalid."""


class ApprovalError(WardenError):
    """A decision on a proposal was refused (wrong person, wrong state, stale hash)."""


class GatewayError(WardenError):
    """The enforcement platform refused or failed an action."""

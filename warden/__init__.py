"""Warden: shared settings, errors and the `warden` command."""

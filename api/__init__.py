"""Warden's HTTP JSON API for detectors and review tools (`/api/v1/`), built on FastAPI.

Imports neither Slack nor an LLM library: the Slack app passes in what posts proposal cards.
"""

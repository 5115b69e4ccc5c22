"""`make demo`: Warden's story played against a local Slack stand-in (`python -m slackapp.demo`).

`run` sets the world up; `story.CHAPTERS` orders the chapters; each chapter module has `play`.
"""

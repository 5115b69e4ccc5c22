"""slackapp reaches the agent through its one entry point and never loads an LLM library itself."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import importlib, pkgutil, sys
import slackapp
for module in pkgutil.walk_packages(slackapp.__path__, "slackapp."):
    importlib.import_module(module.name)
llm = {"langchain", "langchain_core", "langchain_openai", "openai", "langgraph"}
print(sorted({name.split(".")[0] for name in sys.modules} & llm))
"""


def test_importing_every_slackapp_module_loads_no_llm_library() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

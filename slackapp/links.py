"""Where each policy is published: the `url` of its documents' front matter, for citations.

A citation names a policy and its version; the link is read from the policy documents Warden
ingests (front matter `url`), once per process, so `<url|HA-2.1>` on a card opens the
version that was cited. A document without a url, or one that cannot be read, gives no link.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

from slackapp.runtime import Runtime

log = logging.getLogger(__name__)
PolicyLinks = dict[tuple[str, str], str]  # (policy id, version) -> published url
TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".text", ".html", ".htm"}


def read_links(folders: Iterable[Path]) -> PolicyLinks:
    """Every (policy id, version) whose document's front matter gives a url."""
    from knowledge.parsing import iter_files, read_text, split_front_matter

    links: PolicyLinks = {}
    try:
        files = iter_files(folders)
    except Exception as exc:
        log.warning("policy links unavailable: %s", exc)
        return links
    for path, _source in files:
        if path.suffix.lower() not in TEXT_SUFFIXES:
            continue
        try:
            front, _body = split_front_matter(read_text(path), path)
        except Exception as exc:  # a broken document fails ingestion, not a card
            log.info("no policy link from %s: %s", path, exc)
            continue
        if front is not None and front.url:
            links[(front.id, front.version)] = front.url
    return links


def policy_links(rt: Runtime) -> PolicyLinks:
    """The process's links (read on first use) from the configured policy folders."""
    found = rt.extras.get("policy_links")
    if found is None:
        found = rt.extras.setdefault("policy_links", read_links(rt.settings.policies_dirs))
    return found  # type: ignore[no-any-return]

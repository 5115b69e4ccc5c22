"""The worker pool that runs slow work (model, retrieval, fanout) after Slack has its ack."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

log = logging.getLogger(__name__)


class WorkPool:
    """A bounded thread pool; listeners submit and return, so the ack never waits for work.

    The queue is unbounded on purpose: an ack must not block behind busy workers. Every job
    logs its own failure (a job that fails silently would leave a user without a reply).
    """

    def __init__(self, workers: int = 8) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="warden-work")
        # Signs of life (a status line, a reaction) must not queue behind slow answers.
        self._quick = ThreadPoolExecutor(max_workers=2, thread_name_prefix="warden-quick")
        self._lock = threading.Condition()
        self._pending = 0

    def submit(
        self,
        name: str,
        fn: Callable[..., Any],
        *args: Any,
        first_delivery: Callable[[], bool] | None = None,
        quick: bool = False,
        **kwargs: Any,
    ) -> Future[Any]:
        """Run `fn` in the pool; with `first_delivery`, only if it says this is not a retry.
        `quick` jobs (signs of life, a few ms each) run in their own small lane.

        The de-duplication check writes to the store, so it runs here rather than before the
        ack: a burst of events is acknowledged without waiting on the database.
        """
        with self._lock:
            self._pending += 1

        def run() -> Any:
            try:
                if first_delivery is not None and not first_delivery():
                    log.info("duplicate delivery of %s ignored", name)
                    return None
                return fn(*args, **kwargs)
            except Exception:
                log.exception("background job %s failed", name)
                raise
            finally:
                with self._lock:
                    self._pending -= 1
                    self._lock.notify_all()

        # The job keeps the submitting request's log context (request id, kind).
        pool = self._quick if quick else self._executor
        return pool.submit(contextvars.copy_context().run, run)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every submitted job has finished (tests, the demo, shutdown)."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending == 0, timeout=timeout)

    def shutdown(self, *, cancel: bool = False) -> None:
        """Stop taking work; finish what is queued, or drop it when `cancel` (load checks)."""
        self._executor.shutdown(wait=True, cancel_futures=cancel)
        self._quick.shutdown(wait=True, cancel_futures=cancel)

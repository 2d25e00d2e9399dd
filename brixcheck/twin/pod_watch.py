"""One pod watch for the twin's backers: API events into an asyncio queue, re-listed when dropped.

The kubernetes client's watch blocks, so it runs in a daemon thread and hands each event to the
backer's event loop as `{"type": ADDED|MODIFIED|DELETED, "pod": <the pod as JSON>}`.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from kubernetes import client, watch

log = logging.getLogger(__name__)


def start_pod_watch(core: client.CoreV1Api, queue: asyncio.Queue, what: str,
                    list_call: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    """Stream `list_call(*args, **kwargs)`'s pod events into `queue` from a daemon thread."""
    loop = asyncio.get_running_loop()
    threading.Thread(target=_watch, args=(core, loop, queue, what, list_call, args, kwargs),
                     daemon=True).start()


def _watch(core: client.CoreV1Api, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue,
           what: str, list_call: Callable[..., Any], args: tuple, kwargs: dict) -> None:
    serialize = core.api_client.sanitize_for_serialization
    while True:
        try:
            for event in watch.Watch().stream(list_call, *args, **kwargs):
                item = {"type": event["type"], "pod": serialize(event["object"])}
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except Exception:  # re-list after a dropped watch
            log.warning("%s watch dropped; re-listing", what, exc_info=True)


async def dispatch(queue: asyncio.Queue, handle: Callable[[dict[str, Any]], Awaitable[None]],
                   tasks: dict[str, asyncio.Task[None]]) -> None:
    """Hand each event to `handle` until cancelled; then cancel and await the pods' `tasks`."""
    try:
        while True:
            await handle(await queue.get())
    finally:
        for task in tasks.values():
            task.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)

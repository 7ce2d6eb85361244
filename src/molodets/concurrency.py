"""Admission on the event loop: a request waits for its turn before it takes a worker thread."""

from __future__ import annotations

import asyncio
import weakref


class LoopSemaphore:
    """At most `slots` holders at a time, as an `asyncio.Semaphore` per event loop (a semaphore
    belongs to the loop it was first used on; tests run several). Waiting on the loop costs a
    waiter no thread, no connection and no share of the interpreter lock."""

    def __init__(self, slots: int) -> None:
        self.slots = slots
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def __call__(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        semaphore = self._by_loop.get(loop)
        if semaphore is None:
            semaphore = self._by_loop[loop] = asyncio.Semaphore(self.slots)
        return semaphore

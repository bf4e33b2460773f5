"""Durable updates: every update is stored before Telegram is told it arrived, and processed
from the store in each chat's order; a restart continues what is not done.

Telegram forgets an update once ``getUpdates`` asks for a later offset (or once a webhook
answered 200). PTB's polling asks for the next batch as soon as it has queued the last one,
so until this store a crash lost every update fetched and not yet processed.

The path of an update:

1. **Intake** (:mod:`.intake`). PTB's own polling loop runs unchanged (its backoff and its
   error callback: a 409 Conflict and network failures are handled as before) and puts
   each fetched update into :class:`IntakeQueue`, which keeps it; the next ``getUpdates``
   request — the one whose offset tells Telegram they arrived — first commits what was
   kept to the ``inbound_update`` table in one transaction, idempotent on ``update_id``.
   PTB's webhook server puts into the same queue, which then commits before ``put``
   returns, so the webhook answers 200 only after the commit; another web server calls
   :meth:`UpdateStore.accept` before it answers.
2. **Claim** (:mod:`.dispatch`). :class:`Dispatcher` leases pending rows to this process in
   ``update_id`` order (``lease_owner`` until ``lease_until``, renewed while in hand),
   skipping every chat another live process holds a row of, and feeds them to PTB's
   ``update_queue``, no more than the processor's capacity at once. Claims take turns (on
   PostgreSQL a transaction advisory lock, and ``FOR UPDATE SKIP LOCKED``; on SQLite
   ``BEGIN IMMEDIATE``), so two processes on one database never hold one chat at once.
3. **Process.** :class:`bot.processor.ChatOrderedProcessor` runs each chat's updates in
   order and tells the dispatcher when each starts and ends.
4. **Done** (:mod:`.marks`). An update is marked done *in its handler's commit*: the first
   transaction committed while it runs also sets ``done_at``, and if the row was done
   already (another process got there first) that transaction fails instead
   (:class:`AlreadyProcessed`), so a handler's effects are committed once. A file sent in a
   private chat is admitted in one transaction and recorded, after its download, in a
   second: its mark goes with the second. An update whose handler commits nothing is
   marked done in a transaction of its own once it has run. A done row loses its payload
   and chat key at once and is deleted after two days (Telegram redelivers for a day).

Crash windows. A crash before the mark's commit leaves the update pending: it runs again
after the restart, from its start (a file is downloaded again; its admission, which opens a
draft if there is none, finds the draft it opened). What a handler sends to Telegram after
its commit is lost if the process dies in between. An update whose handler commits nothing
runs again if the process dies between its end and its mark. A row whose claims keep
ending in a crash is given up after :data:`MAX_ATTEMPTS` claims (one log line).

Leases. A process calls itself ``host:pid:random``; at start it releases the leases of
processes of its host that are gone, so a restart continues at once. A lease of a process
on another host ends :data:`LEASE` after its last renewal.

Privacy. The payload is the update's JSON sealed with AES-256-GCM under a key derived from
the instance's secret; the chat key is a keyed digest of the chat (and member, in a group).
"""

from bot.updates.dispatch import Dispatcher
from bot.updates.intake import DurableUpdater, DurableUpdates, IntakeQueue, StoreFirst
from bot.updates.marks import AlreadyProcessed
from bot.updates.store import (
    LEASE,
    MAX_ATTEMPTS,
    UpdateStore,
    UpdateStoreUnavailable,
)

__all__ = [
    "LEASE",
    "MAX_ATTEMPTS",
    "AlreadyProcessed",
    "Dispatcher",
    "DurableUpdater",
    "DurableUpdates",
    "IntakeQueue",
    "StoreFirst",
    "UpdateStore",
    "UpdateStoreUnavailable",
]

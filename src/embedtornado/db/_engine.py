"""The threads behind `embedtornado.db.Database`: one writer, a few readers.

Nothing here is public. The event loop never touches an SQLite connection:
each connection is opened, used and closed by one thread (so the standard
library's ``check_same_thread`` stays on), jobs reach the threads through
`queue.SimpleQueue`, and results go back to the loop that asked with
``loop.call_soon_threadsafe`` (or to a `concurrent.futures.Future` for the
few blocking start-up calls).

A queue is bounded by a `_Gate`: at most *capacity* jobs are queued or
running per queue; further callers wait (suspended, not blocking the loop)
for a slot, and once *max_waiting* are waiting a new caller gets
`.DatabaseOverloadedError` at once.

The writer commits in groups: when several plain writes are queued together
it runs them in one ``BEGIN IMMEDIATE ... COMMIT``, each inside its own
savepoint (a failing statement is rolled back alone and only its caller sees
the error), and acknowledges them after the ``COMMIT`` returned. One
``fsync`` then covers the whole group, which is what makes
``synchronous=FULL`` affordable on flash; no write is acknowledged before it
is durable.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import logging
import queue
import re
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any

from embedtornado.db.errors import (
    CorruptDatabaseError,
    DatabaseClosedError,
    DatabaseOverloadedError,
    MultipleRowsError,
    TransactionError,
)

gen_log = logging.getLogger("embedtornado.general")

#: Most plain writes committed together in one group.
GROUP_MAX = 128

_STOP = object()

Params = Sequence[Any] | dict[str, Any]


# --- delivery --------------------------------------------------------------------------


def _resolve(fut: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if fut.done():  # the caller was cancelled
        return
    if ok:
        fut.set_result(value)
    else:
        fut.set_exception(value)


def _resolve_many(items: list[tuple[asyncio.Future[Any], bool, Any]]) -> None:
    for fut, ok, value in items:
        _resolve(fut, ok, value)


class _Job:
    """One unit of work for a thread: ``fn(conn, *args)`` and where its result goes."""

    __slots__ = ("args", "fn", "fut", "gate", "groupable", "loop")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...],
                 loop: asyncio.AbstractEventLoop | None, fut: Any,
                 groupable: bool = False, gate: _Gate | None = None) -> None:
        self.fn = fn
        self.args = args
        self.loop = loop
        self.fut = fut  # asyncio.Future when loop is set, else concurrent.futures.Future
        self.groupable = groupable
        self.gate = gate

    def deliver(self, ok: bool, value: Any) -> None:
        if self.gate is not None:
            self.gate.release()
            self.gate = None
        if self.loop is None:
            if ok:
                self.fut.set_result(value)
            else:
                self.fut.set_exception(value)
            return
        try:
            self.loop.call_soon_threadsafe(_resolve, self.fut, ok, value)
        except RuntimeError:  # the caller's loop is closed: nobody is waiting
            pass


def _deliver_group(jobs: list[_Job], results: list[tuple[bool, Any]]) -> None:
    """Hand a group's results over with one wake-up per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, bool, Any]]] = {}
    for job, (ok, value) in zip(jobs, results):
        if job.gate is not None:
            job.gate.release()
            job.gate = None
        if job.loop is None:
            job.deliver(ok, value)
        else:
            by_loop.setdefault(job.loop, []).append((job.fut, ok, value))
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_resolve_many, items)
        except RuntimeError:
            pass


# --- admission -------------------------------------------------------------------------


def _grant(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Gate:
    """Thread-safe admission to one queue: at most *capacity* jobs queued or running."""

    def __init__(self, capacity: int, max_waiting: int, name: str) -> None:
        self._lock = threading.Lock()
        self._free = capacity
        self.capacity = capacity
        self._max_waiting = max_waiting
        self._name = name
        self._waiters: collections.deque[tuple[asyncio.AbstractEventLoop,
                                               asyncio.Future[None]]] = collections.deque()

    async def acquire(self) -> None:
        with self._lock:
            if self._free > 0 and not self._waiters:
                self._free -= 1
                return
            if len(self._waiters) >= self._max_waiting:
                raise DatabaseOverloadedError(
                    f"{len(self._waiters)} callers already wait for the {self._name} queue "
                    f"({self.capacity} jobs queued or running)")
            loop = asyncio.get_running_loop()
            fut: asyncio.Future[None] = loop.create_future()
            entry = (loop, fut)
            self._waiters.append(entry)
        try:
            await fut
        except BaseException:
            with self._lock:
                try:
                    self._waiters.remove(entry)
                    granted = False
                except ValueError:
                    granted = True  # release() handed us the slot meanwhile
            if granted:
                self.release()
            raise

    def release(self) -> None:
        while True:
            with self._lock:
                if not self._waiters:
                    self._free += 1
                    return
                loop, fut = self._waiters.popleft()
            try:
                loop.call_soon_threadsafe(_grant, fut)
                return
            except RuntimeError:  # that waiter's loop is gone; try the next one
                continue


# --- statement helpers (run in the worker threads) -------------------------------------

_LEADING = re.compile(r"\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/)\s*)*([A-Za-z]+)", re.DOTALL)
# Statements that must not be wrapped in the writer's group transaction.
_UNGROUPABLE = frozenset({"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE",
                          "VACUUM", "PRAGMA", "ATTACH", "DETACH"})


def first_keyword(sql: str) -> str:
    m = _LEADING.match(sql)
    return m.group(1).upper() if m else ""


def groupable(sql: str) -> bool:
    return first_keyword(sql) not in _UNGROUPABLE


def _hint(exc: sqlite3.Error, sql: str) -> sqlite3.Error:
    text = str(exc)
    if "%s" in sql and ("bindings" in text or 'near "%"' in text):
        new = type(exc)(
            f"{exc} -- SQLite placeholders are ? or :name (%s is MySQL's, as in torndb)")
        new.__cause__ = exc
        return new
    return exc


def make_rows(cursor: sqlite3.Cursor, rows: list[Any], row_type: type) -> list[Any]:
    if cursor.description is None:
        return []
    names = [d[0] for d in cursor.description]
    return [row_type(zip(names, r)) for r in rows]


def do_query(conn: sqlite3.Connection, sql: str, params: Params, row_type: type) -> list[Any]:
    try:
        cur = conn.execute(sql, params)
    except sqlite3.Error as exc:
        raise _hint(exc, sql) from None
    try:
        return make_rows(cur, cur.fetchall(), row_type)
    finally:
        cur.close()


def do_get(conn: sqlite3.Connection, sql: str, params: Params, row_type: type) -> Any:
    try:
        cur = conn.execute(sql, params)
    except sqlite3.Error as exc:
        raise _hint(exc, sql) from None
    try:
        rows = cur.fetchmany(2)
        if len(rows) > 1:
            shown = " ".join(sql.split())
            raise MultipleRowsError(
                f"Database.get() query returned more than one row (use query() or add a "
                f"LIMIT/unique condition): {shown[:200]}")
        return make_rows(cur, rows, row_type)[0] if rows else None
    finally:
        cur.close()


def do_execute(conn: sqlite3.Connection, sql: str, params: Params) -> tuple[int | None, int]:
    try:
        cur = conn.execute(sql, params)
    except sqlite3.Error as exc:
        raise _hint(exc, sql) from None
    try:
        cur.fetchall()  # finish the statement (RETURNING clauses, pragmas)
        return cur.lastrowid, cur.rowcount
    finally:
        cur.close()


def do_executemany(conn: sqlite3.Connection, sql: str,
                   seq: Sequence[Params]) -> tuple[int | None, int]:
    try:
        cur = conn.executemany(sql, seq)
    except sqlite3.Error as exc:
        raise _hint(exc, sql) from None
    try:
        rowcount = cur.rowcount
    finally:
        cur.close()
    lastrowid = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
    return lastrowid, rowcount


# --- transactions and iterators: channels between one coroutine and one thread ---------


class TxChannel:
    """The statements of one transaction, on their way to the writer thread."""

    def __init__(self, idle_timeout: float, on_end: Callable[[], None] | None = None) -> None:
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.state = "open"  # open -> committed | rolled back | timed out | failed
        self.idle_timeout = idle_timeout
        self.on_end = on_end  # called (in the writer thread) once the writer let go of it

    def put(self, item: Any) -> None:
        with self.lock:
            if self.state != "open":
                raise TransactionError(f"the transaction has already ended ({self.state})")
            self.queue.put(item)


class IterChannel:
    """Batch requests from one `RowIterator` to the thread that holds its cursor."""

    def __init__(self, idle_timeout: float) -> None:
        self.requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.finished = False
        self.reason = ""
        self.idle_timeout = idle_timeout

    def request(self, loop: asyncio.AbstractEventLoop | None, fut: Any) -> bool:
        with self.lock:
            if self.finished:
                return False
            self.requests.put((loop, fut))
            return True

    def stop(self) -> None:
        with self.lock:
            if not self.finished:
                self.requests.put(None)


def run_iter(conn: sqlite3.Connection, sql: str, params: Params, batch: int,
             row_type: type, channel: IterChannel, first: _Job) -> Any:
    """Serve one iteration: a batch per request, until done, stopped or idle too long.

    Runs as a job whose *first* delivers the first batch; the job (and its
    queue slot) ends when this returns.
    """
    _iter_body(conn, sql, params, batch, row_type, channel, first)
    return _NO_DELIVERY


def _iter_body(conn: sqlite3.Connection, sql: str, params: Params, batch: int,
               row_type: type, channel: IterChannel, first: _Job) -> None:
    loop, fut = first.loop, first.fut
    cur = None
    try:
        try:
            cur = conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise _hint(exc, sql) from None
        while True:
            rows = make_rows(cur, cur.fetchmany(batch), row_type)
            more = len(rows) == batch
            _send(loop, fut, True, (rows, more))
            if not more:
                return
            try:
                req = channel.requests.get(timeout=channel.idle_timeout)
            except queue.Empty:
                req = None
                reason = (f"iteration abandoned: no batch was asked for in "
                          f"{channel.idle_timeout:g} s")
            else:
                reason = "the iteration was closed"
            if req is None:
                with channel.lock:
                    channel.finished = True
                    channel.reason = reason
                    pending = _drain(channel.requests)
                for item in pending:
                    if item is not None:
                        _send(item[0], item[1], False, DatabaseClosedError(reason))
                return
            loop, fut = req
    except BaseException as exc:  # noqa: BLE001 - handed to the caller
        _send(loop, fut, False, exc)
    finally:
        with channel.lock:
            channel.finished = True
            pending = _drain(channel.requests)
        for item in pending:
            if item is not None:
                _send(item[0], item[1], False,
                      DatabaseClosedError(channel.reason or "the iteration has ended"))
        if cur is not None:
            cur.close()


def _drain(q: queue.SimpleQueue[Any]) -> list[Any]:
    items = []
    while True:
        try:
            items.append(q.get_nowait())
        except queue.Empty:
            return items


def _send(loop: asyncio.AbstractEventLoop | None, fut: Any, ok: bool, value: Any) -> None:
    if loop is None:
        if not fut.done():
            fut.set_result(value) if ok else fut.set_exception(value)
        return
    try:
        loop.call_soon_threadsafe(_resolve, fut, ok, value)
    except RuntimeError:
        pass


# --- connections -----------------------------------------------------------------------

_SYNC_LEVELS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


def sync_level(value: str | int) -> int:
    if isinstance(value, bool):
        raise ValueError("synchronous must be OFF, NORMAL, FULL or EXTRA (or 0-3)")
    if isinstance(value, int):
        if value in _SYNC_LEVELS.values():
            return value
    elif isinstance(value, str) and value.upper() in _SYNC_LEVELS:
        return _SYNC_LEVELS[value.upper()]
    raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA (or 0-3), not {value!r}")


class Config:
    """What the engine needs to open its connections (validated by `.Database`)."""

    def __init__(self, target: str, display: str, memory: bool, readers: int,
                 synchronous: int, busy_timeout: float, integrity_check: str,
                 queue_size: int, max_waiting: int, tx_idle_timeout: float,
                 iter_idle_timeout: float, journal_size_limit: int) -> None:
        self.target = target
        self.display = display
        self.memory = memory
        self.readers = readers
        self.synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.integrity_check = integrity_check
        self.queue_size = queue_size
        self.max_waiting = max_waiting
        self.tx_idle_timeout = tx_idle_timeout
        self.iter_idle_timeout = iter_idle_timeout
        self.journal_size_limit = journal_size_limit


def _connect(cfg: Config) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(cfg.target, timeout=cfg.busy_timeout, isolation_level=None,
                               check_same_thread=True, cached_statements=256)
    except sqlite3.OperationalError as exc:
        raise sqlite3.OperationalError(
            f"cannot open SQLite database {cfg.display!r}: {exc} (does the directory exist "
            f"and is it writable?)") from exc
    return conn


def _is_not_a_database(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "encrypted" in text


def open_writer(cfg: Config) -> tuple[sqlite3.Connection, bool]:
    """Open and set up the writer connection; return it and whether WAL is on."""
    conn = _connect(cfg)
    try:
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(cfg.busy_timeout * 1000)}")
            if cfg.memory:
                wal = False
            else:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                wal = str(mode).lower() == "wal"
                if not wal:
                    gen_log.warning("SQLite database %s: WAL mode unavailable (journal_mode "
                                    "is %s); every call runs on the writer thread",
                                    cfg.display, mode)
            conn.execute(f"PRAGMA synchronous = {cfg.synchronous}")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute(f"PRAGMA journal_size_limit = {int(cfg.journal_size_limit)}")
            if cfg.integrity_check != "off":
                pragma = "quick_check" if cfg.integrity_check == "quick" else "integrity_check"
                problems = [str(r[0]) for r in conn.execute(f"PRAGMA {pragma}(20)")]
                if problems != ["ok"]:
                    raise CorruptDatabaseError(cfg.display, problems)
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, CorruptDatabaseError) or not _is_not_a_database(exc):
                raise
            raise CorruptDatabaseError(cfg.display, [str(exc)]) from exc
    except BaseException:
        conn.close()
        raise
    return conn, wal


def open_reader(cfg: Config) -> sqlite3.Connection:
    conn = _connect(cfg)
    try:
        conn.execute(f"PRAGMA busy_timeout = {int(cfg.busy_timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA query_only = ON")
    except BaseException:
        conn.close()
        raise
    return conn


# --- the engine ------------------------------------------------------------------------


class Engine:
    """Threads, queues and gates of one database (shared by nothing else)."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.write_q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.read_q: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.write_gate = _Gate(cfg.queue_size, cfg.max_waiting, "writer")
        self.read_gate = _Gate(cfg.queue_size, cfg.max_waiting, "reader")
        self.threads: list[threading.Thread] = []
        self.exited: list[concurrent.futures.Future[None]] = []
        self.stopped = False
        self.wal = False
        self.n_readers = 0

    # start-up (blocking: the caller waits until every connection is open and checked)

    def start(self) -> None:
        ready: concurrent.futures.Future[bool] = concurrent.futures.Future()
        self._spawn("embedtornado-db-writer", self._writer_main, ready)
        try:
            self.wal = ready.result()
        except BaseException:
            self.threads[0].join()
            raise
        n = self.cfg.readers if self.wal else 0
        readies = []
        for i in range(n):
            r: concurrent.futures.Future[bool] = concurrent.futures.Future()
            self._spawn(f"embedtornado-db-reader-{i}", self._reader_main, r)
            readies.append(r)
        error: BaseException | None = None
        for r in readies:
            try:
                r.result()
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                error = error or exc
        self.n_readers = n
        if error is not None:
            self.stop_nowait()
            for t in self.threads:
                t.join()
            raise error
        if n == 0:  # reads share the writer's thread and gate
            self.read_q = self.write_q
            self.read_gate = self.write_gate

    def _spawn(self, name: str, target: Callable[..., None],
               ready: concurrent.futures.Future[bool]) -> None:
        exited: concurrent.futures.Future[None] = concurrent.futures.Future()
        t = threading.Thread(target=self._thread_main, args=(target, ready, exited),
                             name=name, daemon=True)
        self.threads.append(t)
        self.exited.append(exited)
        t.start()

    @staticmethod
    def _thread_main(target: Callable[..., None], ready: concurrent.futures.Future[bool],
                     exited: concurrent.futures.Future[None]) -> None:
        try:
            target(ready)
        except BaseException as exc:  # noqa: BLE001 - reported through ready, or logged
            if not ready.done():
                ready.set_exception(exc)
            else:
                gen_log.error("embedtornado.db thread failed", exc_info=True)
        finally:
            exited.set_result(None)

    def stop_nowait(self) -> None:
        """Queue the stop markers: each thread finishes what is queued before them."""
        if self.stopped:
            return
        self.stopped = True
        if self.read_q is not self.write_q:
            for _ in range(self.n_readers):
                self.read_q.put(_STOP)
        self.write_q.put(_STOP)

    # reader threads

    def _reader_main(self, ready: concurrent.futures.Future[bool]) -> None:
        conn = open_reader(self.cfg)
        ready.set_result(True)
        try:
            q = self.read_q
            while True:
                job = q.get()
                if job is _STOP:
                    return
                if job.loop is not None and job.fut.cancelled():
                    # nobody waits for this read any more (the client went away): skip it
                    if job.gate is not None:
                        job.gate.release()
                        job.gate = None
                    continue
                self._run_one(conn, job)
        finally:
            conn.close()

    @staticmethod
    def _run_one(conn: sqlite3.Connection, job: _Job) -> None:
        try:
            value = job.fn(conn, *job.args)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            job.deliver(False, exc)
        else:
            if value is not _NO_DELIVERY:
                job.deliver(True, value)
            elif job.gate is not None:  # the job delivered its own results
                job.gate.release()
                job.gate = None

    # the writer thread

    def _writer_main(self, ready: concurrent.futures.Future[bool]) -> None:
        conn, wal = open_writer(self.cfg)
        ready.set_result(wal)
        try:
            q = self.write_q
            carry: Any = None
            while True:
                job = carry if carry is not None else q.get()
                carry = None
                if job is _STOP:
                    break
                if not job.groupable:
                    self._run_one(conn, job)
                    self._check_autocommit(conn, job)
                    continue
                group = [job]
                while len(group) < GROUP_MAX:
                    try:
                        nxt = q.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP or not nxt.groupable:
                        carry = nxt
                        break
                    group.append(nxt)
                if len(group) == 1:
                    self._run_one(conn, job)
                    self._check_autocommit(conn, job)
                else:
                    self._run_group(conn, group)
            try:
                conn.execute("PRAGMA optimize")
            except sqlite3.Error:
                pass
        finally:
            conn.close()

    @staticmethod
    def _check_autocommit(conn: sqlite3.Connection, job: _Job) -> None:
        # A job outside `transaction()` left a transaction open: someone ran BEGIN by hand.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
            gen_log.error("embedtornado.db: a statement left a transaction open (BEGIN by "
                          "hand?); it was rolled back. Use Database.transaction().")

    @staticmethod
    def _run_group(conn: sqlite3.Connection, group: list[_Job]) -> None:
        results: list[tuple[bool, Any]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in group:
                conn.execute("SAVEPOINT embedtornado_group")
                try:
                    value = job.fn(conn, *job.args)
                except sqlite3.Error as exc:
                    if not conn.in_transaction:
                        raise _GroupBroken() from exc  # SQLite rolled the whole group back
                    conn.execute("ROLLBACK TO embedtornado_group")
                    conn.execute("RELEASE embedtornado_group")
                    results.append((False, exc))
                except Exception as exc:  # noqa: BLE001 - MultipleRowsError and the like
                    conn.execute("ROLLBACK TO embedtornado_group")
                    conn.execute("RELEASE embedtornado_group")
                    results.append((False, exc))
                else:
                    conn.execute("RELEASE embedtornado_group")
                    results.append((True, value))
            conn.execute("COMMIT")
        except (sqlite3.Error, _GroupBroken):
            # The group as a whole failed (BEGIN, COMMIT, or an error that ended the
            # transaction): nothing of it is committed; run each on its own instead.
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
            for job in group:
                Engine._run_one(conn, job)
                Engine._check_autocommit(conn, job)
            return
        _deliver_group(group, results)

    # transactions (a job on the writer that serves one TxChannel)

    def run_transaction(self, conn: sqlite3.Connection, channel: TxChannel,
                        begin: _Job) -> Any:
        try:
            return self._serve_transaction(conn, channel, begin)
        finally:
            if channel.on_end is not None:
                channel.on_end()

    def _serve_transaction(self, conn: sqlite3.Connection, channel: TxChannel,
                           begin: _Job) -> Any:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            with channel.lock:
                channel.state = "failed"
            begin.deliver(False, exc)
            return _NO_DELIVERY
        begin.deliver(True, None)  # this releases the queue slot: the tx holds none now
        while True:
            try:
                item = channel.queue.get(timeout=channel.idle_timeout)
            except queue.Empty:
                with channel.lock:
                    if channel.queue.empty():
                        channel.state = "timed out"
                        item = None
                    else:
                        item = channel.queue.get_nowait()
                if item is None:
                    conn.execute("ROLLBACK")
                    gen_log.warning("embedtornado.db: a transaction was idle for %g s and "
                                    "was rolled back", channel.idle_timeout)
                    return _NO_DELIVERY
            kind, job = item
            if kind == "stmt":
                self._run_one(conn, job)
                if not conn.in_transaction:  # SQLite ended it (I/O error, COMMIT by hand)
                    with channel.lock:
                        channel.state = "failed"
                        rest = _drain(channel.queue)
                    for _k, j in rest:
                        j.deliver(False, TransactionError("the transaction was ended by "
                                                          "SQLite after an error"))
                    return _NO_DELIVERY
                continue
            with channel.lock:
                channel.state = "committed" if kind == "commit" else "rolled back"
                rest = _drain(channel.queue)
            for _k, j in rest:
                j.deliver(False, TransactionError(f"the transaction has already ended "
                                                  f"({channel.state})"))
            try:
                if kind == "commit":
                    try:
                        conn.execute("COMMIT")
                    except BaseException:
                        channel.state = "failed"
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
                else:
                    conn.execute("ROLLBACK")
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                job.deliver(False, exc)
            else:
                job.deliver(True, None)
            return _NO_DELIVERY


class _GroupBroken(Exception):
    pass


#: Returned by a job function that delivered its results itself.
_NO_DELIVERY = object()
NO_DELIVERY = _NO_DELIVERY

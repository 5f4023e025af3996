"""`Database`: SQLite without blocking the event loop, with torndb's API.

::

    from embedtornado.db import Database

    db = Database("/var/lib/embedtornado/app.db")       # WAL, synchronous=FULL
    await db.execute("CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, name TEXT)")
    user_id = await db.execute("INSERT INTO users (name) VALUES (?)", "ada")   # lastrowid
    row = await db.get("SELECT * FROM users WHERE id = ?", user_id)
    print(row.name, row["name"])
    for row in await db.query("SELECT * FROM users WHERE name LIKE :p", p="a%"):
        ...
    async with db.transaction():
        await db.execute("UPDATE accounts SET balance = balance - ? WHERE id = ?", 10, 1)
        await db.execute("UPDATE accounts SET balance = balance + ? WHERE id = ?", 10, 2)
    async for row in db.iter("SELECT * FROM events ORDER BY id", batch=500):
        ...
    await db.backup("/var/lib/embedtornado/app.db.bak")
    await db.close()                                      # queued writes finish first

One thread owns the writing connection (SQLite has one writer at a time) and
a small pool of threads own read-only connections; in WAL mode readers never
wait for the writer. Calls are coroutines; a call's result comes back to the
loop that awaited it with ``loop.call_soon_threadsafe``, so any asyncio loop
works (embedtornado's compiled loop, the stdlib loop, uvloop), even several
at once. See ``docs/db.md`` for the guarantees.

Statements are always run with bound parameters (``?`` positional or
``:name`` named); there is no formatting path, and one call runs exactly one
statement (SQLite refuses a second one), so input can never become SQL.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextvars
import os
import sqlite3
import threading
import warnings
import weakref
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from embedtornado.db import _engine
from embedtornado.db.errors import DatabaseClosedError, TransactionError

if TYPE_CHECKING:
    from embedtornado.db.migrations import MigrationSource

__all__ = ["Database", "Row", "RowIterator", "Transaction"]


class Row(dict):  # type: ignore[type-arg]
    """A result row: a `dict` of column name to value that also allows attribute access.

    ``row["name"]`` and ``row.name`` are the same (torndb's ``Row``); a
    missing attribute raises `AttributeError`. Being a plain dict, a row
    is JSON-serialisable as it is (``self.write(row)`` in a handler). When
    two columns share a name (``SELECT a.id, b.id``) the last one wins: give
    them aliases.
    """

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _params(args: tuple[Any, ...], named: dict[str, Any]) -> Sequence[Any] | dict[str, Any]:
    if named:
        if args:
            raise TypeError("pass parameters either positionally (?) or by name (:name), "
                            "not both")
        return named
    return args


def _check_sql(sql: Any) -> str:
    if not isinstance(sql, str):
        raise TypeError(f"SQL must be a str, not {type(sql).__name__}")
    return sql


def _resolve_path(path_or_url: Any) -> tuple[str, str, bool]:
    """Return (what to give sqlite3.connect, what to show in errors, in-memory?)."""
    if isinstance(path_or_url, bytes):
        path_or_url = os.fsdecode(path_or_url)
    if isinstance(path_or_url, os.PathLike):
        path_or_url = os.fspath(path_or_url)
    if not isinstance(path_or_url, str) or not path_or_url:
        raise TypeError(f"Database() needs a file path or an sqlite:// URL, not {path_or_url!r}")
    text = path_or_url
    if text.lower().startswith("sqlite:"):
        rest = text[len("sqlite:"):]
        if not rest.startswith("//"):
            raise ValueError(f"bad SQLite URL {text!r}: expected sqlite:///relative/path or "
                             f"sqlite:////absolute/path")
        rest = rest[2:]
        if "?" in rest or "#" in rest:
            raise ValueError(f"SQLite URL {text!r}: options go in Database(...) arguments, "
                             f"not in the URL")
        if rest in ("", "/", "/:memory:"):
            return ":memory:", ":memory:", True
        if not rest.startswith("/"):
            raise ValueError(f"bad SQLite URL {text!r}: expected sqlite:///path")
        text = rest[1:]  # sqlite:///rel.db -> rel.db; sqlite:////abs.db -> /abs.db
    if text == ":memory:":
        return ":memory:", ":memory:", True
    if "\x00" in text:
        raise ValueError("database path contains a NUL byte")
    return text, text, False


_open_engines: weakref.WeakSet[_engine.Engine] = weakref.WeakSet()
_atexit_lock = threading.Lock()
_atexit_registered = False
#: How long interpreter exit waits for a database that was never closed.
EXIT_DRAIN_TIMEOUT = 10.0


def _drain_at_exit() -> None:
    for eng in list(_open_engines):
        eng.stop_nowait()
    for eng in list(_open_engines):
        for t in eng.threads:
            t.join(EXIT_DRAIN_TIMEOUT)


def _register_engine(eng: _engine.Engine) -> None:
    global _atexit_registered
    with _atexit_lock:
        _open_engines.add(eng)
        if not _atexit_registered:
            atexit.register(_drain_at_exit)
            _atexit_registered = True


class Database:
    """An SQLite database used from coroutines; see the module docstring.

    Opening is blocking (the writer opens the file, switches it to WAL, sets
    the pragmas and runs the integrity check; then the readers open): do it at
    start-up, or use ``await Database.open(...)`` from a coroutine.

    :arg path_or_url: a file path (`str` or path-like), ``sqlite:///relative.db``,
        ``sqlite:////absolute.db``, or ``":memory:"`` / ``sqlite://`` for a
        private in-memory database (one connection: *readers* is 0).
    :arg readers: reader threads (each with its own read-only connection);
        0 runs everything on the writer thread. Forced to 0 for in-memory
        databases and when WAL mode is unavailable.
    :arg synchronous: ``"FULL"`` (default: a write is on the medium before it
        is acknowledged), ``"NORMAL"`` (in WAL mode the last writes may be lost
        at power loss, the database stays intact), ``"EXTRA"`` or ``"OFF"``.
    :arg busy_timeout: seconds SQLite retries when another *process* holds the
        lock (threads of this object never contend for it).
    :arg integrity_check: ``"quick"`` (default: ``PRAGMA quick_check`` at open),
        ``"full"`` (``PRAGMA integrity_check``, slower) or ``"off"``. Damage
        raises `.CorruptDatabaseError`.
    :arg queue_size: jobs queued or running per queue (the writer's, and the
        readers' shared one). A caller beyond it waits, suspended, for a slot.
    :arg max_waiting: callers that may wait for a slot per queue; one more
        gets `.DatabaseOverloadedError` at once. Together these bound the
        memory a flood of calls can take.
    :arg transaction_timeout: seconds a `transaction` may sit idle (no
        statement sent) before the writer rolls it back, so a stuck coroutine
        cannot hold the only writer forever.
    :arg iter_timeout: seconds an `iter` may wait for its consumer to ask for
        the next batch before its reader thread drops it.
    :arg journal_size_limit: bytes the WAL file is truncated to after a
        checkpoint (flash space; default 64 MiB).
    """

    def __init__(self, path_or_url: str | os.PathLike[str], *, readers: int = 2,
                 synchronous: str | int = "FULL", busy_timeout: float = 5.0,
                 integrity_check: str = "quick", queue_size: int = 256,
                 max_waiting: int = 10_000, transaction_timeout: float = 30.0,
                 iter_timeout: float = 30.0,
                 journal_size_limit: int = 64 * 1024 * 1024) -> None:
        target, display, memory = _resolve_path(path_or_url)
        if not isinstance(readers, int) or isinstance(readers, bool) or not 0 <= readers <= 64:
            raise ValueError(f"readers must be an int from 0 to 64, not {readers!r}")
        if integrity_check not in ("quick", "full", "off"):
            raise ValueError(f"integrity_check must be 'quick', 'full' or 'off', "
                             f"not {integrity_check!r}")
        for name, value in (("queue_size", queue_size), ("max_waiting", max_waiting)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int, not {value!r}")
        for name, fvalue in (("busy_timeout", busy_timeout),
                             ("transaction_timeout", transaction_timeout),
                             ("iter_timeout", iter_timeout)):
            if not isinstance(fvalue, (int, float)) or not fvalue > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {fvalue!r}")
        if not isinstance(journal_size_limit, int) or journal_size_limit < -1:
            raise ValueError(f"journal_size_limit must be an int >= -1, "
                             f"not {journal_size_limit!r}")
        self.path = display
        cfg = _engine.Config(
            target=target, display=display, memory=memory, readers=0 if memory else readers,
            synchronous=_engine.sync_level(synchronous), busy_timeout=float(busy_timeout),
            integrity_check=integrity_check, queue_size=queue_size, max_waiting=max_waiting,
            tx_idle_timeout=float(transaction_timeout), iter_idle_timeout=float(iter_timeout),
            journal_size_limit=journal_size_limit)
        self._lock = threading.Lock()
        self._closing = False
        self._closed = False
        self._active = 0
        self._idle_waiters: list[concurrent.futures.Future[None]] = []
        self._iters: weakref.WeakSet[_engine.IterChannel] = weakref.WeakSet()
        self._tx: contextvars.ContextVar[Transaction | None] = contextvars.ContextVar(
            f"embedtornado.db.tx.{id(self)}", default=None)
        self._engine = _engine.Engine(cfg)
        try:
            self._engine.start()
        except BaseException:
            self._closing = self._closed = True
            raise
        _register_engine(self._engine)

    @classmethod
    async def open(cls, path_or_url: str | os.PathLike[str], **kwargs: Any) -> Database:
        """Like the constructor, but the blocking open runs in the loop's default executor."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, lambda: cls(path_or_url, **kwargs))

    def __repr__(self) -> str:
        state = "closed" if self._closed else "closing" if self._closing else "open"
        return f"<Database {self.path!r} {state}, {self._engine.n_readers} readers>"

    @property
    def closed(self) -> bool:
        """True once `close` has begun (no new calls are accepted)."""
        return self._closing

    @property
    def readers(self) -> int:
        """How many reader threads serve `query`, `get`, `iter` and `backup`."""
        return self._engine.n_readers

    @property
    def wal(self) -> bool:
        """True when the database is in WAL mode."""
        return self._engine.wal

    # --- bookkeeping for close() ---------------------------------------------------

    def _enter(self) -> None:
        with self._lock:
            if self._closing:
                raise DatabaseClosedError(f"database {self.path!r} is closed")
            self._active += 1

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1
            if self._active or not self._idle_waiters:
                return
            waiters, self._idle_waiters = self._idle_waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    # --- running jobs -------------------------------------------------------------

    async def _submit(self, write: bool, fn: Any, args: tuple[Any, ...],
                      groupable: bool = False, pass_job: bool = False) -> Any:
        eng = self._engine
        gate = eng.write_gate if write else eng.read_gate
        await gate.acquire()
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        job = _engine._Job(fn, args, loop, fut, groupable, gate)
        if pass_job:
            job.args = (*args, job)
        (eng.write_q if write else eng.read_q).put(job)
        return await fut

    async def _call(self, write: bool, fn: Any, *args: Any, groupable: bool = False) -> Any:
        tx = self._tx.get()
        if tx is not None:
            return await tx._statement(fn, args)
        self._enter()
        try:
            return await self._submit(write, fn, args, groupable)
        finally:
            self._leave()

    def _blocking(self, fn: Any, *args: Any, timeout: float | None = None) -> Any:
        """Run ``fn(conn, *args)`` on the writer and wait in this thread (start-up only)."""
        self._enter()
        try:
            fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
            self._engine.write_q.put(_engine._Job(fn, args, None, fut))
            return fut.result(timeout)
        finally:
            self._leave()

    # --- the torndb API -----------------------------------------------------------

    async def query(self, sql: str, *params: Any, **named: Any) -> list[Row]:
        """Run a query on a reader; return every row as a list of `Row`.

        Inside a `transaction` it runs on the writer's connection and sees the
        transaction's own changes. For large results use `iter`.
        """
        p = _params(params, named)
        return await self._call(False, _engine.do_query, _check_sql(sql), p, Row)  # type: ignore[no-any-return]

    async def get(self, sql: str, *params: Any, **named: Any) -> Row | None:
        """Return the only row of a query, or None if there is none.

        :raises MultipleRowsError: if the query returns more than one row.
        """
        p = _params(params, named)
        return await self._call(False, _engine.do_get, _check_sql(sql), p, Row)  # type: ignore[no-any-return]

    async def execute(self, sql: str, *params: Any, **named: Any) -> int | None:
        """Run one statement on the writer and return the row id of the last insert.

        As torndb's ``execute``: the value is ``lastrowid`` (SQLite's
        ``last_insert_rowid()`` after the statement; for a statement that
        inserted nothing, whatever the connection's last insert was, or
        None). Use `execute_rowcount` for the number of rows changed.

        The statement is committed (and, with ``synchronous=FULL``, on the
        medium) before the call returns, unless it runs inside a `transaction`.
        """
        sql = _check_sql(sql)
        p = _params(params, named)
        lastrowid, _ = await self._call(True, _engine.do_execute, sql, p,
                                        groupable=_engine.groupable(sql))
        return lastrowid  # type: ignore[no-any-return]

    execute_lastrowid = execute

    async def execute_rowcount(self, sql: str, *params: Any, **named: Any) -> int:
        """Like `execute`, but return how many rows the statement changed."""
        sql = _check_sql(sql)
        p = _params(params, named)
        _, rowcount = await self._call(True, _engine.do_execute, sql, p,
                                       groupable=_engine.groupable(sql))
        return rowcount  # type: ignore[no-any-return]

    async def executemany(self, sql: str, seq_of_params: Iterable[Any]) -> int | None:
        """Run a statement once per parameter set, atomically; return the last row id.

        Outside a `transaction` the whole batch commits together or not at
        all. *seq_of_params* is materialised into a list first.
        """
        sql = _check_sql(sql)
        seq = self._param_list(seq_of_params)
        lastrowid, _ = await self._call(True, _engine.do_executemany, sql, seq,
                                        groupable=_engine.groupable(sql))
        return lastrowid  # type: ignore[no-any-return]

    executemany_lastrowid = executemany

    async def executemany_rowcount(self, sql: str, seq_of_params: Iterable[Any]) -> int:
        """Like `executemany`, but return the total number of rows changed."""
        sql = _check_sql(sql)
        seq = self._param_list(seq_of_params)
        _, rowcount = await self._call(True, _engine.do_executemany, sql, seq,
                                       groupable=_engine.groupable(sql))
        return rowcount  # type: ignore[no-any-return]

    # torndb's aliases
    insert = execute_lastrowid
    insertmany = executemany_lastrowid
    update = execute_rowcount
    updatemany = executemany_rowcount

    @staticmethod
    def _param_list(seq_of_params: Iterable[Any]) -> list[Any]:
        if isinstance(seq_of_params, (str, bytes)):
            raise TypeError("executemany() needs a sequence of parameter sequences")
        seq = list(seq_of_params)
        for p in seq:
            if not isinstance(p, (Sequence, Mapping)) or isinstance(p, (str, bytes)):
                raise TypeError(f"executemany() needs a sequence of parameter sequences or "
                                f"mappings; got an item {p!r}")
        return seq

    def transaction(self) -> Transaction:
        """An async context manager around a transaction on the writer.

        ::

            async with db.transaction():
                await db.execute(...)      # these run on the transaction's connection,
                rows = await db.query(...)  # and see its uncommitted changes

        The transaction commits when the block ends normally and rolls back
        when it raises (the exception then propagates). Inside the block,
        every call on this database from the same task (and tasks it starts)
        joins the transaction. A nested ``transaction()`` is a savepoint.
        Other writers wait until it ends: keep transactions short, and do not
        await network I/O inside one. A transaction left idle for
        *transaction_timeout* seconds is rolled back.
        """
        return Transaction(self)

    def iter(self, sql: str, *params: Any, batch: int = 256, **named: Any) -> RowIterator:
        """Iterate over a large result without loading it all: ``async for row in db.iter(...)``.

        Rows are fetched *batch* at a time by a reader thread that keeps the
        cursor (and so one consistent snapshot) open between batches; that
        thread serves nothing else meanwhile, so finish or close iterations
        promptly (``async with db.iter(...) as rows:`` closes on exit; an
        abandoned iterator is dropped after *iter_timeout* seconds).
        Inside a `transaction` the result is read at once on the writer.
        """
        if not isinstance(batch, int) or isinstance(batch, bool) or batch < 1:
            raise ValueError(f"batch must be a positive int, not {batch!r}")
        return RowIterator(self, _check_sql(sql), _params(params, named), batch)

    async def backup(self, path: str | os.PathLike[str]) -> None:
        """Copy the database to *path* with SQLite's online backup API.

        The copy is one consistent snapshot, taken on a reader (writers are
        not blocked in WAL mode). It is written to a temporary file beside
        *path*, synced, then renamed over *path*, so *path* is always either
        the old backup or the complete new one.
        """
        target = os.fspath(path)
        if not isinstance(target, str) or not target:
            raise TypeError("backup() needs a file path")
        if self._engine.cfg.memory is False and os.path.exists(target) and \
                os.path.samefile(target, self.path):
            raise ValueError("backup() target is the database itself")
        await self._call(False, _do_backup, target)

    async def migrate(self, migrations: MigrationSource, namespace: str) -> list[str]:
        """Apply the pending migrations of *namespace*; see `embedtornado.db.migrations`."""
        from embedtornado.db import migrations as m
        if self._tx.get() is not None:
            raise TransactionError("migrate() cannot run inside a transaction")
        return await self._call(True, m.apply, [(namespace, migrations)])  # type: ignore[no-any-return]

    def migrate_blocking(self, plan: Iterable[tuple[str, MigrationSource]] | Mapping[str, Any],
                         timeout: float | None = None) -> list[str]:
        """Apply the migrations of several namespaces, waiting in this thread (start-up).

        *plan* maps each namespace to its folder (or list of `.Migration`);
        all of it runs in one transaction, so a failure leaves the database
        exactly as it was. Returns the names of the migrations applied.
        Do not call it from a coroutine while a transaction of this database
        is open (the writer would wait for that transaction forever).
        """
        from embedtornado.db import migrations as m
        items = list(plan.items()) if isinstance(plan, Mapping) else list(plan)
        return self._blocking(m.apply, items, timeout=timeout)  # type: ignore[no-any-return]

    async def migrate_all(self, plan: Iterable[tuple[str, MigrationSource]] |
                          Mapping[str, Any]) -> list[str]:
        """`migrate_blocking`'s coroutine twin: several namespaces, one transaction."""
        from embedtornado.db import migrations as m
        items = list(plan.items()) if isinstance(plan, Mapping) else list(plan)
        return await self._call(True, m.apply, items)  # type: ignore[no-any-return]

    # --- closing ------------------------------------------------------------------

    async def close(self) -> None:
        """Stop accepting calls, let every call already made finish, then close.

        Calls made before `close` (including writes still waiting for a queue
        slot) complete normally; open `iter` iterations are ended (their next
        batch raises `.DatabaseClosedError`); open transactions are waited
        for. New calls raise `.DatabaseClosedError`. The reader connections
        close first and the writer last, so SQLite checkpoints the WAL into
        the database file. Calling it again waits for the same end.
        """
        if self._tx.get() is not None:
            raise TransactionError("close() called inside one of this database's "
                                   "transactions; it would wait for itself")
        idle: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            self._closing = True
            if self._active:
                self._idle_waiters.append(idle)
            else:
                idle.set_result(None)
        for ch in list(self._iters):
            ch.stop()
        await asyncio.wrap_future(idle)
        self._engine.stop_nowait()
        for exited in self._engine.exited:
            await asyncio.wrap_future(exited)
        self._closed = True

    def close_blocking(self, timeout: float | None = None) -> None:
        """`close` for code with no running loop (start-up failures, shutdown, scripts).

        Waits in the calling thread; *timeout* bounds the wait for calls in
        progress (`TimeoutError` if they do not finish; the database is then
        still closing).
        """
        if self._tx.get() is not None:
            raise TransactionError("close_blocking() called inside a transaction")
        idle: concurrent.futures.Future[None] = concurrent.futures.Future()
        with self._lock:
            self._closing = True
            if self._active:
                self._idle_waiters.append(idle)
            else:
                idle.set_result(None)
        for ch in list(self._iters):
            ch.stop()
        idle.result(timeout)
        self._engine.stop_nowait()
        for t in self._engine.threads:
            t.join(timeout)
        self._closed = True

    def __del__(self) -> None:
        if getattr(self, "_closing", True):
            return
        eng = getattr(self, "_engine", None)
        if eng is None or not eng.threads:
            return
        warnings.warn(f"unclosed {self!r}", ResourceWarning, stacklevel=2)
        eng.stop_nowait()


def _do_backup(conn: sqlite3.Connection, target: str) -> None:
    directory = os.path.dirname(os.path.abspath(target))
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}.tmp")
    try:
        dest = sqlite3.connect(tmp, isolation_level=None)
        try:
            conn.backup(dest)  # one step: one snapshot, readers do not block the writer
            dest.execute("PRAGMA journal_mode = DELETE")
        finally:
            dest.close()
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
        dfd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Transaction:
    """What `Database.transaction` returns; also usable as ``tx`` in ``async with ... as tx``.

    ``tx.execute``, ``tx.query`` and the rest are the database's methods;
    inside the block they all join this transaction anyway.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._channel: _engine.TxChannel | None = None
        self._parent: Transaction | None = None
        self._savepoint: str | None = None
        self._token: contextvars.Token[Transaction | None] | None = None
        self._entered = False
        self._left = threading.Lock()  # held once the transaction stopped counting as active

    def _leave_once(self) -> None:
        # From __aexit__, or from the writer when it let go of the transaction (a
        # coroutine stuck inside the block must not keep close() waiting forever).
        if self._left.acquire(blocking=False):
            self._db._leave()

    def __getattr__(self, name: str) -> Any:
        # tx.execute(...) and friends: the database's methods, run in this transaction
        # even when called from a task that does not carry it in its context.
        if name not in _TX_METHODS:
            raise AttributeError(name)
        method = getattr(self._db, name)

        async def in_transaction(*args: Any, **kwargs: Any) -> Any:
            token = self._db._tx.set(self)
            try:
                return await method(*args, **kwargs)
            finally:
                self._db._tx.reset(token)

        in_transaction.__name__ = name
        in_transaction.__doc__ = method.__doc__
        return in_transaction

    def iter(self, sql: str, *params: Any, batch: int = 256, **named: Any) -> RowIterator:
        """`Database.iter` in this transaction (the result is read at once, on the writer)."""
        it = self._db.iter(sql, *params, batch=batch, **named)
        it._tx = self
        return it

    async def _statement(self, fn: Any, args: tuple[Any, ...]) -> Any:
        root = self
        while root._parent is not None:
            root = root._parent
        channel = root._channel
        if channel is None:
            raise TransactionError("the transaction has not started")
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        channel.put(("stmt", _engine._Job(fn, args, loop, fut)))
        return await fut

    async def __aenter__(self) -> Transaction:
        if self._entered:
            raise TransactionError("a Transaction object can be entered only once")
        self._entered = True
        db = self._db
        parent = db._tx.get()
        if parent is not None:
            self._parent = parent
            self._savepoint = f"embedtornado_sp_{id(self):x}"
            await parent._statement(_exec_plain, (f"SAVEPOINT {self._savepoint}",))
            self._token = db._tx.set(self)
            return self
        db._enter()
        try:
            channel = _engine.TxChannel(db._engine.cfg.tx_idle_timeout, self._leave_once)
            eng = db._engine
            await eng.write_gate.acquire()
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            job = _engine._Job(eng.run_transaction, (), loop, fut, False, eng.write_gate)
            job.args = (channel, job)
            eng.write_q.put(job)
            try:
                await fut
            except asyncio.CancelledError:
                # BEGIN may still run: make the writer roll it back when it gets there.
                try:
                    channel.put(("rollback", _engine._Job(_noop, (), None,
                                                          concurrent.futures.Future())))
                except TransactionError:
                    pass
                raise
        except BaseException:
            self._leave_once()
            raise
        self._channel = channel
        self._token = db._tx.set(self)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        db = self._db
        if self._token is not None:
            db._tx.reset(self._token)
            self._token = None
        if self._parent is not None:
            sp = self._savepoint
            if exc_type is None:
                await self._parent._statement(_exec_plain, (f"RELEASE {sp}",))
            else:
                try:
                    await self._parent._statement(_exec_plain, (f"ROLLBACK TO {sp}",))
                    await self._parent._statement(_exec_plain, (f"RELEASE {sp}",))
                except (TransactionError, sqlite3.Error):
                    pass  # the whole transaction already ended: the original error propagates
            return
        channel = self._channel
        assert channel is not None
        try:
            loop = asyncio.get_running_loop()
            fut = loop.create_future()
            kind = "commit" if exc_type is None else "rollback"
            try:
                channel.put((kind, _engine._Job(_noop, (), loop, fut)))
            except TransactionError:
                if exc_type is None:
                    raise
                return  # already ended (timed out, failed): the original error propagates
            try:
                await asyncio.shield(fut)
            except asyncio.CancelledError:
                raise
            except BaseException:
                if exc_type is None:
                    raise
        finally:
            self._leave_once()


_TX_METHODS = frozenset({"query", "get", "execute", "execute_lastrowid", "execute_rowcount",
                         "executemany", "executemany_lastrowid", "executemany_rowcount",
                         "insert", "insertmany", "update", "updatemany"})


def _exec_plain(conn: sqlite3.Connection, sql: str) -> None:
    conn.execute(sql)


def _noop(conn: sqlite3.Connection) -> None:
    return None


class RowIterator:
    """Returned by `Database.iter`: an async iterator of `Row`, batch by batch."""

    def __init__(self, db: Database, sql: str, params: Any, batch: int) -> None:
        self._db = db
        self._sql = sql
        self._params = params
        self._batch = batch
        self._buffer: deque[Row] = deque()
        self._channel: _engine.IterChannel | None = None
        self._more = True
        self._started = False
        self._tx: Transaction | None = None

    def __aiter__(self) -> RowIterator:
        return self

    async def __aenter__(self) -> RowIterator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def __anext__(self) -> Row:
        if not self._buffer:
            if not self._more:
                raise StopAsyncIteration
            await self._fetch()
            if not self._buffer:
                raise StopAsyncIteration
        return self._buffer.popleft()

    async def _fetch(self) -> None:
        db = self._db
        if not self._started:
            self._started = True
            tx = self._tx or db._tx.get()
            if tx is not None:
                rows = await tx._statement(_engine.do_query, (self._sql, self._params, Row))
                self._buffer.extend(rows)
                self._more = False
                return
        try:
            db._enter()  # only while a batch is on its way: close() ends idle iterations
        except BaseException:
            self._finish()
            raise
        try:
            if self._channel is None:
                self._channel = ch = _engine.IterChannel(db._engine.cfg.iter_idle_timeout)
                db._iters.add(ch)
                rows, more = await db._submit(False, _engine.run_iter,
                                              (self._sql, self._params, self._batch, Row, ch),
                                              pass_job=True)
            else:
                ch = self._channel
                loop = asyncio.get_running_loop()
                fut = loop.create_future()
                if not ch.request(loop, fut):
                    raise DatabaseClosedError(ch.reason or "the iteration has ended")
                rows, more = await fut
        except BaseException:
            self._finish()
            raise
        finally:
            db._leave()
        self._buffer.extend(rows)
        self._more = more
        if not more:
            self._finish()

    def _finish(self) -> None:
        self._more = False
        if self._channel is not None:
            self._channel.stop()

    async def aclose(self) -> None:
        """Stop the iteration and free its reader thread (idempotent)."""
        self._buffer.clear()
        self._finish()

    def __del__(self) -> None:
        ch = getattr(self, "_channel", None)
        if ch is not None:
            ch.stop()

"""Template render and compile times: embedtornado (compiled and twin runtime), Tornado, Jinja2.

    python bench/bench_template.py                  # 9 repeats of ~0.2 s per row
    python bench/bench_template.py --repeats 15 --rows 50

The page (the same for every engine, written in each one's language): a base
layout with three blocks (title, head, body) and an ``{% include %}`` of a
footer; the child page extends it and fills the body with a table of
``--rows`` rows, each a dict with five fields of which four are escaped
(some hold ``<>&"'`` or non-ASCII text), one ``if/else`` per row and an
alternating row class. Tornado and embedtornado run the very same template
text; Jinja2 runs its equivalent with ``autoescape=True`` and the same data.

Before timing, embedtornado's output with each runtime must be byte-identical
to Tornado's (the script exits otherwise); Jinja2's output differs in small
ways (it writes ``&#39;`` for ``'`` and ``&#34;`` for ``"``) and is only
checked to contain every row.

Rows:

* *render*: one ``generate(**data)`` / ``render(**data)`` of the loaded,
  compiled page; median over ``--repeats`` timeit repeats of µs per render
  (each repeat runs ``number`` renders, auto-ranged to about 0.2 s).
* *compile*: a fresh loader, then loading the page (parse and compile the
  page, the layout and the footer); median of ``--repeats`` single runs,
  each from a new loader (so nothing is cached), in ms.

Ratios are row/peer within this run (below 1: faster). The machine may be
shared: read the ratios, not the absolute figures.
"""

from __future__ import annotations

import argparse
import importlib
import platform
import statistics
import sys
import timeit
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

import embedtornado.template as et_template

BASE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{% block title %}Device{% end %} &middot; {{ site }}</title>
  {% block head %}<link rel="stylesheet" href="/static/site.css">{% end %}
</head>
<body>
  <nav>
    <a href="/">Home</a> <a href="/status">Status</a> <a href="/settings">Settings</a>
    <span class="user">{{ user["name"] }}</span>
  </nav>
  <main>
  {% block body %}{% end %}
  </main>
  {% include "footer.html" %}
</body>
</html>
"""

FOOTER = """<footer>
  <p>{{ site }} firmware {{ version }} &copy; {{ year }}</p>
</footer>
"""

PAGE = """{% extends "base.html" %}
{% block title %}Clients ({{ len(rows) }}){% end %}
{% block head %}<link rel="stylesheet" href="/static/table.css">{% end %}
{% block body %}
<h1>{{ heading }}</h1>
<table class="clients">
  <tr><th>#</th><th>Name</th><th>Address</th><th>Status</th><th>Note</th></tr>
  {% for i, row in enumerate(rows) %}
  <tr class="{{ 'odd' if i % 2 else 'even' }}">
    <td>{{ row["id"] }}</td>
    <td><a href="/clients/{{ row["id"] }}">{{ row["name"] }}</a></td>
    <td>{{ row["addr"] }}</td>
    {% if row["online"] %}
    <td class="ok">online since {{ row["since"] }}</td>
    {% else %}
    <td class="down">offline</td>
    {% end %}
    <td>{{ row["note"] }}</td>
  </tr>
  {% end %}
</table>
{% end %}
"""

J_BASE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{% block title %}Device{% endblock %} &middot; {{ site }}</title>
  {% block head %}<link rel="stylesheet" href="/static/site.css">{% endblock %}
</head>
<body>
  <nav>
    <a href="/">Home</a> <a href="/status">Status</a> <a href="/settings">Settings</a>
    <span class="user">{{ user["name"] }}</span>
  </nav>
  <main>
  {% block body %}{% endblock %}
  </main>
  {% include "footer.html" %}
</body>
</html>
"""

J_PAGE = """{% extends "base.html" %}
{% block title %}Clients ({{ rows|length }}){% endblock %}
{% block head %}<link rel="stylesheet" href="/static/table.css">{% endblock %}
{% block body %}
<h1>{{ heading }}</h1>
<table class="clients">
  <tr><th>#</th><th>Name</th><th>Address</th><th>Status</th><th>Note</th></tr>
  {% for row in rows %}
  <tr class="{{ 'odd' if loop.index0 % 2 else 'even' }}">
    <td>{{ row["id"] }}</td>
    <td><a href="/clients/{{ row["id"] }}">{{ row["name"] }}</a></td>
    <td>{{ row["addr"] }}</td>
    {% if row["online"] %}
    <td class="ok">online since {{ row["since"] }}</td>
    {% else %}
    <td class="down">offline</td>
    {% endif %}
    <td>{{ row["note"] }}</td>
  </tr>
  {% endfor %}
</table>
{% endblock %}
"""

NOTES = ["", "spare <unit>", "Kitchen & hall", 'say "hi"', "Zoë's tablet", "ok"]


def make_data(nrows: int) -> dict[str, Any]:
    rows = [
        {
            "id": 1000 + i,
            "name": f"client-{i}" if i % 7 else f"Ünïcode <{i}>",
            "addr": f"192.168.1.{i + 2}",
            "online": i % 3 != 0,
            "since": f"2026-11-{1 + i % 28:02d} 08:{i % 60:02d}",
            "note": NOTES[i % len(NOTES)],
        }
        for i in range(nrows)
    ]
    return {"rows": rows, "site": "Router & Co", "heading": "Clients <LAN>",
            "user": {"name": "admin"}, "version": "1.4.2", "year": 2026}


SOURCES = {"base.html": BASE, "footer.html": FOOTER, "page.html": PAGE}
J_SOURCES = {"base.html": J_BASE, "footer.html": FOOTER, "page.html": J_PAGE}


def ours(runtime: str) -> tuple[Callable[[], Any], str]:
    """Loader factory with the given tmplrt (templates bind it when they compile)."""
    mod = importlib.import_module(
        "embedtornado._speedups.tmplrt" if runtime == "cython" else "embedtornado._pure.tmplrt")

    def new_loader() -> Any:
        et_template.tmplrt = mod
        return et_template.DictLoader(SOURCES)

    return new_loader, mod.__name__


def measure(stmt: Callable[[], Any], repeats: int) -> tuple[float, float, float]:
    timer = timeit.Timer(stmt)
    number, _ = timer.autorange()
    number = max(1, number)
    runs = [t / number * 1e6 for t in timer.repeat(repeats, number)]
    return statistics.median(runs), min(runs), max(runs)


def measure_once(stmt: Callable[[], Any], repeats: int) -> tuple[float, float, float]:
    stmt()  # warm imports
    runs = []
    for _ in range(repeats):
        t0 = timeit.default_timer()
        stmt()
        runs.append((timeit.default_timer() - t0) * 1e3)
    return statistics.median(runs), min(runs), max(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--rows", type=int, default=50)
    args = ap.parse_args()

    import jinja2
    import tornado
    import tornado.template as t_template

    data = make_data(args.rows)

    engines: dict[str, Callable[[], Any]] = {}
    render: dict[str, Callable[[], bytes | str]] = {}

    def t_loader() -> Any:
        return t_template.DictLoader(SOURCES)

    engines["tornado"] = t_loader
    t_page = t_loader().load("page.html")
    render["tornado"] = lambda: t_page.generate(**data)
    expected = render["tornado"]()

    for runtime in ("cython", "python"):
        try:
            new_loader, modname = ours(runtime)
        except ImportError as exc:
            print(f"embedtornado ({runtime} runtime): unavailable: {exc}")
            continue
        label = f"embedtornado ({runtime})"
        engines[label] = new_loader
        page = new_loader().load("page.html")
        assert page._defaults["_tt_escaped"].__module__ == modname
        got = page.generate(**data)
        if got != expected:
            sys.exit(f"{label}: output differs from Tornado's")
        render[label] = lambda page=page: page.generate(**data)

    def j_loader() -> Any:
        return jinja2.Environment(loader=jinja2.DictLoader(J_SOURCES), autoescape=True,
                                  auto_reload=False)

    engines["jinja2"] = j_loader
    j_page = j_loader().get_template("page.html")
    render["jinja2"] = lambda: j_page.render(**data)
    j_out = render["jinja2"]()
    missing = [r["addr"] for r in data["rows"] if r["addr"] not in j_out]
    if missing:
        sys.exit(f"jinja2: rows missing from the output: {missing}")

    def compile_stmt(name: str) -> Callable[[], Any]:
        new_loader = engines[name]
        if name == "jinja2":
            return lambda: new_loader().get_template("page.html")
        return lambda: new_loader().load("page.html")

    print(f"Python {platform.python_version()}, Tornado {tornado.version}, "
          f"Jinja2 {jinja2.__version__}; page of {len(expected)} bytes, {args.rows} rows; "
          f"median of {args.repeats} repeats")
    results: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {}
    for name, stmt in render.items():
        results[name] = (measure(stmt, args.repeats),
                         measure_once(compile_stmt(name), args.repeats))

    tr, tc = results["tornado"][0][0], results["tornado"][1][0]
    jr, jc = results["jinja2"][0][0], results["jinja2"][1][0]
    head = (f"{'engine':<22} {'render µs':>10} {'(min-max)':>15} {'/tornado':>9} {'/jinja2':>8}"
            f"   {'compile ms':>10} {'/tornado':>9} {'/jinja2':>8}")
    print(head)
    print("-" * len(head))
    for name, ((r, rmin, rmax), (c, _cmin, _cmax)) in results.items():
        spread = f"({rmin:.1f}-{rmax:.1f})"
        print(f"{name:<22} {r:>10.1f} {spread:>15} {r / tr:>9.2f} {r / jr:>8.2f}"
              f"   {c:>10.2f} {c / tc:>9.2f} {c / jc:>8.2f}")


if __name__ == "__main__":
    main()

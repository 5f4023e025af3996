"""Build script: the package from ``src/``, the compiled modules from ``cython/``.

Every ``cython/embedtornado/_speedups/<name>.pyx`` becomes the extension
``embedtornado._speedups.<name>``. A few small pure-Python twins are compiled
from their own source (``SINGLE_SOURCE`` below, the "single-source variant" of
DESIGN.md): ``src/embedtornado/_pure/<name>.py`` is built as
``embedtornado._speedups.<name>``, so the two are equal by construction.

Environment:

``EMBEDTORNADO_REQUIRE_EXTENSIONS=1``
    a compile failure is fatal (CI and packaging set it); otherwise the
    extensions are optional and the package falls back to its twins.
``EMBEDTORNADO_NO_EXTENSIONS=1``
    build nothing (a pure-Python install).
``EMBEDTORNADO_CYTHON_DEBUG=1``
    line tracing and annotated HTML next to the generated C.
``EMBEDTORNADO_BUILD_ONLY=loop,httpparse``
    build only the named modules (development: ``python setup.py build_ext
    --inplace`` without touching modules someone else is editing).
"""

import glob
import os
import platform
import sys

from setuptools import Extension, find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "src", "embedtornado"))
from _version import __version__  # noqa: E402

sys.path.pop(0)

#: Twins compiled from their own .py source, with annotation typing off.
SINGLE_SOURCE = ["httpproto"]


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0")


def extensions() -> list:
    if _flag("EMBEDTORNADO_NO_EXTENSIONS") or platform.python_implementation() != "CPython":
        print("embedtornado: pure-Python build (no extensions)")
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        if _flag("EMBEDTORNADO_REQUIRE_EXTENSIONS"):
            raise
        print("embedtornado: Cython not found, pure-Python build")
        return []
    required = _flag("EMBEDTORNADO_REQUIRE_EXTENSIONS")
    debug = _flag("EMBEDTORNADO_CYTHON_DEBUG")
    macros = [("CYTHON_TRACE", "1")] if debug else []
    exts = []
    for path in sorted(glob.glob("cython/embedtornado/_speedups/*.pyx")):
        name = os.path.splitext(os.path.relpath(path, "cython"))[0].replace(os.sep, ".")
        exts.append(Extension(name, [path], optional=not required, define_macros=macros))
    for name in SINGLE_SOURCE:
        src = f"src/embedtornado/_pure/{name}.py"
        if not os.path.exists(src):
            continue
        exts.append(
            Extension(f"embedtornado._speedups.{name}", [src], optional=not required,
                      define_macros=macros)
        )
    only = {n.strip() for n in os.environ.get("EMBEDTORNADO_BUILD_ONLY", "").split(",") if n.strip()}
    if only:
        exts = [e for e in exts if e.name.rsplit(".", 1)[1] in only]
    directives = {
        "language_level": 3,
        "embedsignature": True,
        "annotation_typing": False,
    }
    if debug:
        directives["linetrace"] = True
    print("embedtornado: accelerated build (%s)" % ", ".join(e.name for e in exts))
    options = dict(include_path=["cython"], build_dir="build/cython",
                   compiler_directives=directives, annotate=debug,
                   nthreads=os.cpu_count() or 1)
    # NOTE(embedtornado): Cython's dependency check does not see the augmenting
    # .pxd of a single-source module, so a changed .pxd alone would leave the
    # old C file in place; such modules are cythonized again when it is newer.
    single = [e for e in exts if e.sources[0].endswith(".py")]
    others = [e for e in exts if not e.sources[0].endswith(".py")]
    out = cythonize(others, **options) if others else []
    for ext in single:
        name = ext.name.rsplit(".", 1)[1]
        pxd = f"cython/embedtornado/_speedups/{name}.pxd"
        generated = os.path.join("build/cython", os.path.splitext(ext.sources[0])[0] + ".c")
        stale = (os.path.exists(pxd) and os.path.exists(generated)
                 and os.path.getmtime(pxd) > os.path.getmtime(generated))
        out += cythonize([ext], force=stale, **options)
    return out


setup(
    version=__version__,
    package_dir={"": "src"},
    packages=find_packages("src"),
    ext_modules=extensions(),
    zip_safe=False,
)

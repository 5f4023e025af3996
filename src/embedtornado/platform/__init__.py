"""Platform glue, as in Tornado's ``tornado.platform`` package.

Only `embedtornado.platform.asyncio` is here: the asyncio-backed `.IOLoop`
classes (the same objects `embedtornado.ioloop` defines), the old future
converters and the selector helpers Tornado uses on Windows::

    from embedtornado.platform.asyncio import AsyncIOMainLoop, to_asyncio_future

Tornado's ``tornado.platform.caresresolver`` (needs ``pycares``) and
``tornado.platform.twisted`` (needs Twisted) have no counterpart: neither
library is part of an embedtornado install, and `embedtornado.netutil`'s
resolvers cover name lookup.
"""

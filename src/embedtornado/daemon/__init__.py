"""The appliance daemon: ``embedtornado`` (``python -m embedtornado``).

* `cli` -- the command line (`cli.main`)
* `config` -- the options, the config file, error locations
* `plugins` -- handler plugins from plugin directories
* `service` -- the running daemon: reload, drain, watchdog
* `ops` -- ``/healthz`` and ``/metrics``
* `sdnotify`, `activation`, `journal` -- the systemd protocols, in Python

See ``docs/daemon.md``.
"""

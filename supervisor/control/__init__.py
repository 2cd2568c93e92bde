"""The control socket: a Unix socket server in the daemon, and the client the CLI uses.

Import from the submodules: ``client`` (what the CLI uses; standard library only, so
``supervisor status`` starts fast), ``paths``, ``protocol``, ``server`` and ``controller``
(the daemon side). See docs/control.md for the protocol.
"""

"""Free TCP ports on 127.0.0.1 for servers that the tests start.

Ports are picked below the kernel's ephemeral range (``ip_local_port_range``, usually
32768-60999). A port picked in that range can be handed, between the pick and the
server's own bind, to any outgoing connection on the machine (another test's client, a
parallel pytest worker): the server then fails to start, and the test fails for nothing.
"""

from __future__ import annotations

import contextlib
import random
import socket

LOW, HIGH = 20000, 32000
"""Where ports are picked: below the ephemeral range, above most well-known services."""


def free_ports(count: int = 1) -> int:
    """The first of ``count`` consecutive ports that are free on 127.0.0.1 now."""
    for _ in range(200):
        base = random.randrange(LOW, HIGH - count)
        with contextlib.ExitStack() as stack:
            try:
                for port in range(base, base + count):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return base
    raise AssertionError("no block of free ports")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)

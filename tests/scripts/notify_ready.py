"""Speaks the systemd notify protocol over NOTIFY_SOCKET.

Usage: notify_ready.py [--pings N] [--stopping]
Sends STATUS=starting, READY=1 with STATUS=serving, then N WATCHDOG=1 pings 50 ms apart,
then (with --stopping) STOPPING=1; then sleeps until stopped.
"""

import os
import socket
import sys
import time


def send(message: str) -> None:
    path = os.environ["NOTIFY_SOCKET"]
    if path.startswith("@"):
        path = "\0" + path[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.sendto(message.encode(), path)


pings = int(sys.argv[sys.argv.index("--pings") + 1]) if "--pings" in sys.argv else 0
send("STATUS=starting")
print(f"watchdog_usec={os.environ.get('WATCHDOG_USEC', '')}", flush=True)
send("READY=1\nSTATUS=serving")
for _ in range(pings):
    time.sleep(0.05)
    send("WATCHDOG=1")
if "--stopping" in sys.argv:
    send("STOPPING=1")
print("pings done", flush=True)
while True:
    time.sleep(60)

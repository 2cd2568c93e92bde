"""Listens on 127.0.0.1:PORT after DELAY seconds; accepts and closes connections forever."""

import socket
import sys
import time

port = int(sys.argv[1])
time.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
with socket.create_server(("127.0.0.1", port)) as server:
    print(f"listening on {port}", flush=True)
    while True:
        conn, _ = server.accept()
        conn.close()

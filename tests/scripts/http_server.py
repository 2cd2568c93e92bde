"""Serves GET on 127.0.0.1:PORT answering STATUS (default 200) to every path."""

import http.server
import sys

port = int(sys.argv[1])
status = int(sys.argv[2]) if len(sys.argv) > 2 else 200


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: object) -> None:
        pass


server = http.server.HTTPServer(("127.0.0.1", port), Handler)
print(f"serving on {port}", flush=True)
server.serve_forever()

"""``python -m aiokit.testing``: run a moto server on 127.0.0.1 on a free port.

Prints ``LISTENING <url>`` once it accepts connections, then serves until stopped. With
``--exit-with-parent`` it also stops when its standard input reaches end of file: the parent
(:class:`aiokit.testing.MotoServer`) holds the other end of that pipe, and the kernel
closes it when the parent ends in any way, ``kill -9`` included.
"""

from __future__ import annotations

import os
import sys
import threading


def _exit_at_end_of_stdin() -> None:
    while sys.stdin.buffer.read(1 << 16):
        pass
    os._exit(0)  # the parent is gone: no one will ever stop or use this server


def main() -> None:
    """Serve moto on a free loopback port until killed."""
    import logging

    if "--exit-with-parent" in sys.argv[1:]:
        threading.Thread(target=_exit_at_end_of_stdin, name="parent-watch", daemon=True).start()

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    host, port = server.server_address[:2]
    print(f"LISTENING http://{host!s}:{port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""``python -m aiokit.testing``: run a moto server on 127.0.0.1 on a free port.

Prints ``LISTENING <url>`` once it accepts connections, then serves until stopped.
"""

from __future__ import annotations


def main() -> None:
    """Serve moto on a free loopback port until killed."""
    import logging

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

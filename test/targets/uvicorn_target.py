"""What every Python test target shares: uvicorn on 127.0.0.1, on a port bound before it starts,
the base URL as the first stdout line, uvicorn's log on stderr and its access log where asked."""

import socket


def log_config(access_log):
    """uvicorn's default logging, minus colours, with a timestamp on access lines and the access log where asked."""
    access_handler = {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"}
    if access_log:
        access_handler = {"formatter": "access", "class": "logging.FileHandler", "filename": access_log}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": "%(asctime)s %(levelprefix)s %(message)s", "use_colors": False},
            "access": {
                "()": "uvicorn.logging.AccessFormatter",
                "fmt": '%(asctime)s %(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s',
                "use_colors": False,
            },
        },
        "handlers": {
            "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
            "access": access_handler,
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        },
    }


def run_on_free_port(app, access_log, path=""):
    """Serves `app` until SIGTERM. Bound here, before uvicorn starts, so the port is printed with no race."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    server = uvicorn.Server(uvicorn.Config(app, log_config=log_config(access_log), access_log=True))
    print(f"http://127.0.0.1:{sock.getsockname()[1]}{path}", flush=True)
    server.run(sockets=[sock])

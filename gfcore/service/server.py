"""Serving the application on uvicorn: the socket is bound here first, so that a port in use is one line and
``--port 0`` (any free port) can say which port it got before the first request."""

from __future__ import annotations

import ctypes
import ctypes.util
import ipaddress
import socket
import sys

from gfcore.errors import GfpError
from gfcore.service.app import create_app
from gfcore.service.limits import ServiceLimits

LOCAL_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_local(host: str) -> bool:
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a host that does not resolve or a port in use is one line."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise GfpError(f"cannot listen on {host}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise GfpError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}/"


# glibc's mallopt parameters
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
KEEP_BYTES = 32 * 1024 * 1024  # glibc's largest mmap threshold on 64-bit machines


def keep_freed_memory() -> bool:
    """Have glibc keep the buffers a forward pass frees, for the next request, instead of unmapping them:
    by default each request's activations are fresh mmap()s and page faults, which measured 5 ms of kernel
    time per 256x256 image here (a third of the service's time; ``benchmarks/serve_throughput.py``). The
    memory kept is the peak of one batch, which the service needs again anyway. No-op off glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(
            libc.mallopt(M_TRIM_THRESHOLD, 4 * KEEP_BYTES)
        )
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return False


def serve(model, sock: socket.socket, limits: ServiceLimits | None = None) -> None:
    """Answer on ``sock`` until interrupted (Ctrl-C or SIGTERM: uvicorn finishes the requests in flight)."""
    import uvicorn

    keep_freed_memory()
    config = uvicorn.Config(
        create_app(model, limits), log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=5
    )
    uvicorn.Server(config).run(sockets=[sock])

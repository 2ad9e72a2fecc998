import sys

import click

from gfcore.service.limits import MIB, ServiceLimits
from gfp.common import FiniteFloatRange, device_option, emit_json, json_option

_DEFAULTS = ServiceLimits()


@click.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option(
    "--host",
    metavar="ADDRESS",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on. The service has no authentication: anything but a loopback address lets "
    "every machine that reaches this one use it (gfp says so when it starts).",
)
@click.option(
    "--port",
    metavar="PORT",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="Port to listen on (0: any free port; the address is printed).",
)
@click.option(
    "--max-upload-mb",
    metavar="MIB",
    type=FiniteFloatRange(min=0, min_open=True, max=1024),
    default=_DEFAULTS.max_request_bytes / MIB,
    show_default=True,
    help="Largest request body, in MiB (413 beyond, before it is read).",
)
@click.option(
    "--max-pixels",
    metavar="N",
    type=click.IntRange(1, 50_000_000),
    default=_DEFAULTS.max_pixels,
    show_default=True,
    help="Largest image, width x height (422 beyond, from the header, before it is decoded).",
)
@click.option(
    "--max-images",
    metavar="N",
    type=click.IntRange(1, 10_000),
    default=_DEFAULTS.max_images,
    show_default=True,
    help="Most images in one request (413 beyond).",
)
@click.option(
    "--max-waiting",
    metavar="N",
    type=click.IntRange(1, 10_000),
    default=_DEFAULTS.max_waiting,
    show_default=True,
    help="Most requests queued or running at once (503 with Retry-After beyond); with --max-upload-mb "
    "this bounds the memory uploads can take.",
)
@click.option(
    "--batch-size",
    metavar="N",
    type=click.IntRange(1, 4096),
    default=_DEFAULTS.batch_images,
    show_default=True,
    help="Images per forward pass: waiting requests with the same options share one.",
)
@click.option(
    "--read-timeout",
    metavar="SECONDS",
    type=click.IntRange(1, 3600),
    default=_DEFAULTS.read_timeout_s,
    show_default=True,
    help="Seconds a client may take to send its request (408 beyond), so a slow sender cannot hold a "
    "place in the queue.",
)
@device_option
@json_option
def serve(
    run,
    host,
    port,
    max_upload_mb,
    max_pixels,
    max_images,
    max_waiting,
    batch_size,
    read_timeout,
    device,
    as_json,
):
    """A local web service over RUN (a run folder or shipped:NAME): the page at / (drop or pick images)
    and a JSON API -- POST /api/attribute, GET /api/run, GET /api/health -- whose answers are the Python
    API's (gfp.load(RUN).predict). Ctrl-C stops it.

    With --json, one line on stdout once it listens: the url and what GET /api/run answers."""
    import gfp
    from gfcore.service.server import bind, is_local, url_of
    from gfcore.service.server import serve as serve_on

    limits = ServiceLimits(
        max_request_bytes=int(max_upload_mb * MIB),
        max_images=max_images,
        max_pixels=max_pixels,
        max_waiting=max_waiting,
        batch_images=batch_size,
        read_timeout_s=read_timeout,
    )
    model = gfp.load(run, device=device)
    sock = bind(host, port)
    if as_json:
        from gfcore.service.app import Service

        emit_json({"url": url_of(sock), **Service(model, limits).describe()})
        sys.stdout.flush()  # a script waiting for the address reads it now, not when the service stops
    click.echo(f"gfp serves {run} ({model.method}: {', '.join(model.classes)}) at {url_of(sock)}", err=True)
    if not is_local(host):
        click.echo(
            f"Warning: listening on {host}, not a loopback address: anyone who can reach this machine can use "
            "the service (it has no authentication)",
            err=True,
        )
    serve_on(model, sock, limits)

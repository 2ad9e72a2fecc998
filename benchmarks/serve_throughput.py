"""`gfp serve` against the Python API in this process, on the same encoded images, in alternating rounds.

Both sides decode the same JPEG bytes and attribute the whole image (tiles at the run's resolution); the
service adds HTTP, multipart parsing, the queue and JSON. Printed per mode: images/s, and latency p50/p99
per request, with the service/API ratio of images/s (the service's own cost shows as the ratio's distance
from 1); for one image per request also the application in process (no HTTP server). Modes: one image per request, one after another; batches of --batch images per request; and
--clients clients at once sending one image each (the service batches them; the API side runs the same
images one call each, as a single-threaded caller would).

    python benchmarks/serve_throughput.py [--run shipped:existence] [--images 96] [--size 256]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import torch
from PIL import Image

import gfp


def encoded_images(n: int, size: int) -> list[bytes]:
    """JPEGs of shipped-generator tiles mosaicked to size x size (what a user's upload looks like)."""
    names = [name for name in gfp.generators() if name.startswith(("progan_seed", "sngan"))]
    out = []
    for k in range(n):
        tiles = gfp.sample(names[k % len(names)], n=(size // 32) ** 2, seed=k)
        rows = [np.concatenate(list(row), axis=1) for row in tiles.reshape(size // 32, size // 32, 32, 32, 3)]
        buffer = io.BytesIO()
        Image.fromarray(np.concatenate(rows, axis=0)).save(buffer, format="JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def start_server(run: str) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "gfp", "serve", run, "--port", "0", "--device", "cpu"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    for line in process.stderr:
        found = re.search(r"at (http://\S+)", line)
        if found:
            return process, found.group(1)
    raise SystemExit("gfp serve did not start")


def api_round(model, images, mode, batch, clients):
    latencies, start = [], time.perf_counter()
    groups = [images[i : i + batch] for i in range(0, len(images), batch)] if mode == "batch" else images
    for group in groups:
        t = time.perf_counter()
        if mode == "batch":
            model.predict([Image.open(io.BytesIO(b)) for b in group])
        else:
            model.predict(Image.open(io.BytesIO(group)))
        latencies.append(time.perf_counter() - t)
    return len(images) / (time.perf_counter() - start), latencies


def service_round(url, images, mode, batch, clients):
    def send(http, group):
        files = [("image", (f"{k}.jpg", b, "image/jpeg")) for k, b in enumerate(group)]
        t = time.perf_counter()
        response = http.post("/api/attribute", files=files)
        assert response.status_code == 200, response.text
        return time.perf_counter() - t

    start = time.perf_counter()
    if mode == "concurrent":
        https = [httpx.Client(base_url=url, timeout=300) for _ in range(clients)]
        with ThreadPoolExecutor(clients) as pool:
            latencies = list(pool.map(lambda k: send(https[k % clients], [images[k]]), range(len(images))))
        for http in https:
            http.close()
    else:
        with httpx.Client(base_url=url, timeout=300) as http:
            groups = (
                [images[i : i + batch] for i in range(0, len(images), batch)]
                if mode == "batch"
                else [[b] for b in images]
            )
            latencies = [send(http, group) for group in groups]
    return len(images) / (time.perf_counter() - start), latencies


def app_round(model, images):
    """One image per request through the application itself (``gfp.create_app``) with an in-process
    client: the service's cost without the HTTP server and sockets."""
    import asyncio

    app = gfp.create_app(model)

    async def run():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://app") as client:
                latencies, start = [], time.perf_counter()
                for b in images:
                    t = time.perf_counter()
                    response = await client.post(
                        "/api/attribute", files=[("image", ("x.jpg", b, "image/jpeg"))]
                    )
                    assert response.status_code == 200, response.text
                    latencies.append(time.perf_counter() - t)
                return len(images) / (time.perf_counter() - start), latencies

    return asyncio.run(run())


def pct(values, q):
    return 1000 * float(np.percentile(values, q))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="shipped:existence")
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    images = encoded_images(args.images, args.size)
    model = gfp.load(args.run, device="cpu")
    process, url = start_server(args.run)
    print(
        f"run {args.run}, {args.images} JPEGs {args.size}x{args.size} ({(args.size // model.resolution) ** 2} "
        f"tiles each), batch {args.batch}, {args.clients} clients, torch threads 1 on both sides, {args.rounds} rounds"
    )
    try:
        for mode in ("single", "batch", "concurrent"):
            results = {"api": [], "service": []} | ({"app": []} if mode == "single" else {})
            for _ in range(args.rounds):
                results["api"].append(api_round(model, images, mode, args.batch, args.clients))
                results["service"].append(service_round(url, images, mode, args.batch, args.clients))
                if mode == "single":
                    results["app"].append(app_round(model, images))
            ratios = [s[0] / a[0] for a, s in zip(results["api"], results["service"])]
            print(f"\n{mode}:")
            for side, rounds in results.items():
                rate = statistics.median(r[0] for r in rounds)
                lat = [x for r in rounds for x in r[1]]
                print(
                    f"  {side:8s} {rate:7.1f} images/s   p50 {pct(lat, 50):7.1f} ms   p99 {pct(lat, 99):7.1f} ms per request"
                )
            print(
                f"  ratio service / API: {statistics.median(ratios):.3f}   (per round: {', '.join(f'{r:.3f}' for r in ratios)})"
            )
    finally:
        process.terminate()
        process.wait()


if __name__ == "__main__":
    main()

"""`gfp serve` as a user runs it: a real uvicorn server in its own process, many clients at once, and the
page in a real headless browser (Debian's Chromium driven by Selenium; skipped where it is not installed).

Set GFP_SCREENSHOT_DIR to keep the browser's screenshots (the docs' picture of the page comes from here)."""

from __future__ import annotations

import io
import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

import gfp
from gfcore.runs.training import train_run

pytestmark = pytest.mark.usefixtures("one_torch_thread")

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")


class Server:
    """``gfp serve RUN --port 0 ...`` in a child process; ``url`` is where it listens."""

    def __init__(self, run, *args):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gfp",
                "serve",
                str(run),
                "--port",
                "0",
                "--device",
                "cpu",
                *map(str, args),
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stderr], [], [], 1)
            if ready:
                line = self.process.stderr.readline()
                self.lines.append(line)
                found = re.search(r"at (http://\S+)", line)
                if found:
                    self.url = found.group(1)
                    break
            if self.process.poll() is not None:
                raise AssertionError("gfp serve exited: " + "".join(self.lines) + self.process.stderr.read())
        else:
            raise AssertionError("gfp serve did not start: " + "".join(self.lines))
        # keep draining stderr, so that a chatty server never blocks on a full pipe
        threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True).start()

    def peak_rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def run_dir(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("serve-live") / "run"
    train_run(tiny_dataset, out, "learned:width=0.125", overrides={"epochs": 2, "batch_size": 8})
    return out


@pytest.fixture(scope="module")
def server(run_dir):
    live = Server(run_dir, "--max-upload-mb", 0.5)
    yield live
    live.stop()


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def test_twenty_clients_get_every_answer_identical_to_the_python_api(server, run_dir):
    rng = np.random.default_rng(11)
    images = [
        rng.integers(0, 256, (int(rng.integers(16, 49)), int(rng.integers(16, 49)), 3), np.uint8)
        for _ in range(50)
    ]
    encoded = [png_bytes(rgb) for rgb in images]
    model = gfp.load(run_dir, device="cpu")
    expected = model.predict(images)
    with httpx.Client(base_url=server.url, timeout=120) as probe:
        assert probe.post("/api/attribute", files=[("image", ("w.png", encoded[0]))]).status_code == 200
        before = server.peak_rss_mb()

    def client(c: int) -> list[tuple[int, dict]]:
        """50 images, as ten requests of five, starting at another image for each client."""
        order = [(c * 7 + k) % 50 for k in range(50)]
        answers = []
        with httpx.Client(base_url=server.url, timeout=120) as http:
            for start in range(0, 50, 5):
                chunk = order[start : start + 5]
                files = [("image", (f"{k}.png", encoded[k], "image/png")) for k in chunk]
                response = http.post("/api/attribute", files=files)
                assert response.status_code == 200, response.text
                answers += list(zip(chunk, response.json()["images"]))
        return answers

    with ThreadPoolExecutor(20) as pool:
        results = [answer for answers in pool.map(client, range(20)) for answer in answers]
    assert len(results) == 20 * 50
    for k, entry in results:
        assert entry["name"] == f"{k}.png" and entry["source"] == expected[k].source
        assert entry["view"] == expected[k].view
        # batches of other sizes than the Python API's: the same numbers up to float32 rounding
        np.testing.assert_allclose(entry["logits"], expected[k].logits, rtol=0, atol=1e-4)
    # uploads of one request at a time are a few kB: the queue keeps the peak where one batch puts it
    assert server.peak_rss_mb() - before < 200, (before, server.peak_rss_mb())


def test_a_bad_upload_never_stops_the_service(server):
    good = png_bytes(np.full((20, 20, 3), 90, np.uint8))
    truncated = png_bytes(np.random.default_rng(0).integers(0, 256, (40, 40, 3), np.uint8))[:300]
    with httpx.Client(base_url=server.url, timeout=60) as http:
        over = http.post("/api/attribute", content=bytes(600 * 1024), headers={"content-type": "image/png"})
        assert over.status_code == 413 and "over the limit of 524,288" in over.json()["error"]
        junk = http.post("/api/attribute", files=[("image", ("a.txt", b"not an image at all"))])
        assert junk.status_code == 422 and "a.txt: not an image" in junk.json()["error"]
        cut = http.post("/api/attribute", files=[("image", ("cut.png", truncated))])
        assert cut.status_code == 422 and cut.json()["error"].startswith("cut.png: ")
        assert http.post("/api/attribute", files=[("image", ("ok.png", good))]).status_code == 200
        assert http.get("/api/health").json()["status"] == "ok"


def test_a_slow_sender_is_cut_off_and_the_service_keeps_answering(run_dir):
    import socket

    live = Server(run_dir, "--read-timeout", 1)
    try:
        host, port = live.url.split("//")[1].strip("/").rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as slow:
            slow.sendall(
                b"POST /api/attribute HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\n"
                b"Content-Length: 100000\r\n\r\n" + bytes(10)
            )
            start = time.monotonic()
            answer = b""
            while b"}" not in answer:  # the status line, the headers, then the JSON body
                chunk = slow.recv(4096)
                assert chunk, answer
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408") and b"within 1 s" in answer
            assert time.monotonic() - start < 10
        with httpx.Client(base_url=live.url, timeout=60) as http:
            good = png_bytes(np.full((20, 20, 3), 90, np.uint8))
            assert http.post("/api/attribute", files=[("image", ("ok.png", good))]).status_code == 200
    finally:
        live.stop()


def test_a_busy_port_and_a_wrong_run_are_one_line(server, tmp_path):
    port = server.url.rsplit(":", 1)[1].strip("/")
    taken = subprocess.run(
        [sys.executable, "-m", "gfp", "serve", "shipped:existence", "--port", port],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert taken.returncode == 1 and taken.stderr.strip().startswith(
        f"Error: cannot listen on 127.0.0.1:{port}"
    )
    missing = subprocess.run(
        [sys.executable, "-m", "gfp", "serve", str(tmp_path / "nothing"), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip(
            "Chromium and ChromeDriver are not installed (Debian: apt install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1100,1000",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def use_page(browser, url: str, files: list[Path], cards: int, shot: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    WebDriverWait(browser, 60).until(lambda b: "sources:" in b.find_element(By.ID, "run").text)
    browser.find_element(By.ID, "pick").send_keys("\n".join(str(f) for f in files))
    WebDriverWait(browser, 120).until(lambda b: len(b.find_elements(By.CSS_SELECTOR, ".card")) == cards)
    WebDriverWait(browser, 10).until(ready.text_to_be_present_in_element((By.ID, "status"), "attributed"))
    browser.save_screenshot(str(shot))
    if os.environ.get("GFP_SCREENSHOT_DIR"):
        shutil.copy(shot, Path(os.environ["GFP_SCREENSHOT_DIR"]) / shot.name)
    picture = np.asarray(Image.open(shot).convert("L"))
    assert picture.std() > 10  # a page was drawn, not a blank window
    return browser.find_elements(By.CSS_SELECTOR, ".card")


def test_the_page_attributes_dropped_images_of_the_shipped_attributor(browser, tmp_path):
    model = gfp.load("shipped:existence", device="cpu")
    files = []
    for name in ("progan_seed0", "sngan"):
        path = tmp_path / f"{name}.png"
        Image.fromarray(gfp.sample(name, n=1, seed=3)[0]).save(path)
        files.append(path)
    photo = Path(gfp.__file__).parents[2] / "plugins" / "gfp_photos" / "images" / "camera.png"
    if not photo.exists():  # an installed wheel: the bundled photographs live in the plugin's package
        import gfp_photos

        photo = Path(gfp_photos.__file__).parent / "images" / "camera.png"
    files.append(photo)
    (tmp_path / "notes.txt").write_text("not an image")
    files.append(tmp_path / "notes.txt")
    live = Server("shipped:existence")
    try:
        cards = use_page(browser, live.url, files, len(files), tmp_path / "serve_page.png")
    finally:
        live.stop()
    texts = {f.name: card.text for f, card in zip(reversed(files), cards)}  # newest first
    for path in files[:3]:
        answer = model.predict(path)
        assert answer.source in texts[path.name] and f"{answer.view['tiles']} tile" in texts[path.name]
    assert "not an image" in texts["notes.txt"]


def test_the_page_shows_a_visnet_runs_fingerprint_response(browser, tiny_dataset, tmp_path):
    from selenium.webdriver.common.by import By

    run = tmp_path / "visnet"
    train_run(tiny_dataset, run, "visnet:width=0.0625,lr=0.01", overrides={"epochs": 1, "batch_size": 8})
    image = tmp_path / "x.png"
    Image.fromarray(np.random.default_rng(5).integers(0, 256, (32, 48, 3), np.uint8)).save(image)
    live = Server(run)
    try:
        (card,) = use_page(browser, live.url, [image], 1, tmp_path / "serve_page_visnet.png")
        response = card.find_element(By.CSS_SELECTOR, ".response img")
        assert "fingerprint response" in card.text
        assert response.size["height"] == 16 * 4 and response.size["width"] > 4 * 16 * 3
    finally:
        live.stop()

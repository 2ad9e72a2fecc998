"""`gfp serve`'s application, in process through a real HTTP client (httpx, via Starlette's TestClient):
the API answers what the Python API answers, refuses what is over a limit or not an image in one line, and
keeps answering after every refusal."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

import gfp
from gfcore.runs.training import train_run
from gfcore.service.app import create_app
from gfcore.service.limits import ServiceLimits

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model(tiny_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("serve") / "run"
    train_run(tiny_dataset, out, "learned:width=0.125", overrides={"epochs": 2, "batch_size": 8})
    return gfp.load(out, device="cpu")


def png_bytes(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(7)
    sizes = [(16, 16), (40, 56), (23, 31), (64, 64)]
    return [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for size in sizes]


def client_for(model, **limits) -> TestClient:
    return TestClient(create_app(model, ServiceLimits(**limits)))


def assert_same_answer(entry: dict, prediction) -> None:
    assert entry["source"] == prediction.source
    assert entry["unknown"] == prediction.unknown and entry["view"] == prediction.view
    np.testing.assert_allclose(entry["logits"], prediction.logits, rtol=0, atol=1e-5)
    for c, p in prediction.probabilities.items():
        assert entry["probabilities"][c] == pytest.approx(p, abs=1e-6)


def test_the_api_answers_what_the_python_api_answers(model, images):
    expected = model.predict(images)
    with client_for(model) as client:
        files = [("image", (f"{k}.png", png_bytes(rgb), "image/png")) for k, rgb in enumerate(images)]
        answer = client.post("/api/attribute", files=files)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert [e["name"] for e in body["images"]] == [f"{k}.png" for k in range(len(images))]
        for entry, prediction in zip(body["images"], expected):
            assert_same_answer(entry, prediction)
        assert body["images"][1]["view"]["tiles"] == 3 * 4  # 40x56 in 16x16 tiles, every pixel
        # one image as the body
        raw = client.post(
            "/api/attribute?policy=crop",
            content=png_bytes(images[1]),
            headers={"content-type": "image/png", "x-filename": "one.png"},
        )
        assert raw.status_code == 200
        (entry,) = raw.json()["images"]
        assert entry["name"] == "one.png"
        assert_same_answer(entry, model.predict(images[1], policy="crop"))


def test_run_and_health_describe_the_service(model):
    with client_for(model, max_images=5) as client:
        run = client.get("/api/run").json()
        assert run["classes"] == model.classes and run["resolution"] == 16 and run["method"] == "learned"
        assert run["limits"]["max_images"] == 5 and run["fingerprint_response"] is False
        assert run["calibration"]["temperature"] == model.calibration["temperature"]
        assert client.get("/api/health").json()["status"] == "ok"
        page = client.get("/")
        assert page.status_code == 200 and "Drop images here" in page.text


def test_bad_uploads_get_one_line_and_the_service_keeps_answering(model, images):
    good = [("image", ("good.png", png_bytes(images[0] // 64 * 64), "image/png"))]  # few bytes
    truncated = png_bytes(images[3])[:200]
    flat = png_bytes(np.zeros((64, 64, 3), np.uint8))  # small in bytes, over the limit in pixels
    cases = {
        "not an image": ([("image", ("notes.txt", b"hello, not pixels", "text/plain"))], 422, "not an image"),
        "truncated PNG": ([("image", ("cut.png", truncated, "image/png"))], 422, "cut.png"),
        "over the byte limit": ([("image", ("big.png", bytes(3000), "image/png"))], 413, "over the limit"),
        "over the pixel limit": ([("image", ("wide.png", flat, "image/png"))], 422, "64x64 pixels is over"),
        "too many images": (good * 4, 413, "more than 3 images"),
        "smaller than the run": (
            [("image", ("tiny.png", png_bytes(images[0][:8, :8]), "image/png"))],
            422,
            "16x16",
        ),
    }
    with client_for(model, max_request_bytes=2500, max_pixels=4000, max_images=3) as client:
        for case, (files, status, words) in cases.items():
            answer = client.post("/api/attribute", files=files)
            assert answer.status_code == status, (case, answer.text)
            line = answer.json()["error"]
            assert words in line and "\n" not in line, (case, line)
            assert client.post("/api/attribute", files=good).status_code == 200, case  # still answering
        mixed = client.post("/api/attribute", files=good + cases["not an image"][0]).json()["images"]
        assert "source" in mixed[0] and "not an image" in mixed[1]["error"]  # a batch skips the bad file


def test_a_body_over_the_limit_is_refused_while_it_streams(model):
    chunks = (bytes(1000) for _ in range(100))  # no Content-Length: counted as it arrives
    with client_for(model, max_request_bytes=5000) as client:
        answer = client.post("/api/attribute", content=chunks, headers={"content-type": "image/png"})
        assert answer.status_code == 413 and "5,000 bytes" in answer.json()["error"]


def test_malformed_requests_are_one_line(model, images):
    with client_for(model) as client:
        cases = {
            "/api/attribute?policy=nearest": (400, "policy='nearest'"),
            "/api/attribute?open_set=maybe": (400, "say true or false"),
            "/api/attribute?colour=red": (400, "unknown query parameter(s): colour"),
            "/api/attribute?response=true": (400, "no image fingerprints"),
        }
        for url, (status, words) in cases.items():
            answer = client.post(url, content=png_bytes(images[0]), headers={"content-type": "image/png"})
            assert answer.status_code == status and words in answer.json()["error"], url
        text = client.post("/api/attribute", content=b"{}", headers={"content-type": "application/json"})
        assert text.status_code == 415
        empty = client.post("/api/attribute", content=b"", headers={"content-type": "image/png"})
        assert empty.status_code == 400 and "no image" in empty.json()["error"]


def test_a_full_queue_answers_503_with_retry_after(model, images):
    app = create_app(model, ServiceLimits(max_waiting=1))
    with TestClient(app) as client:
        body = {"content": png_bytes(images[0]), "headers": {"content-type": "image/png"}}
        assert app.state.queue.try_admit()  # one request waiting already
        busy = client.post("/api/attribute", **body)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
        app.state.queue.release()
        assert client.post("/api/attribute", **body).status_code == 200


def test_open_set_follows_the_run_and_can_be_turned_off(model, images):
    with client_for(model) as client:
        files = [("image", ("a.png", png_bytes(images[2]), "image/png"))]
        default = client.post("/api/attribute", files=files).json()
        closed = client.post("/api/attribute?open_set=false", files=files).json()
    assert default["open_set"]["applied"] == (model.calibration["open_set"] is not None)
    assert closed["open_set"] == {"applied": False, "rule": None}
    assert_same_answer(closed["images"][0], model.predict(images[2], open_set=False))


def test_large_batches_are_attributed_a_group_of_pixels_at_a_time(model, images):
    """batch_pixels bounds what is decoded at once; the answers are the same as in one group."""
    files = [("image", (f"{k}.png", png_bytes(rgb), "image/png")) for k, rgb in enumerate(images * 3)]
    with client_for(model) as client:
        together = client.post("/api/attribute", files=files).json()["images"]
    with client_for(model, batch_pixels=2000) as client:  # one or two images per group
        grouped = client.post("/api/attribute", files=files).json()["images"]
    assert len(grouped) == len(files) and [e["name"] for e in grouped] == [e["name"] for e in together]
    for a, b in zip(together, grouped):
        assert a["source"] == b["source"] and a["view"] == b["view"]
        np.testing.assert_allclose(a["logits"], b["logits"], rtol=0, atol=1e-5)

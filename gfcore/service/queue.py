"""One model, many clients: admitted requests wait in order and are answered by one worker, which decodes
and attributes in a thread (so the event loop keeps accepting and refusing requests) and lets waiting
requests with the same options share a forward pass, up to ``batch_images`` images."""

from __future__ import annotations

import asyncio
import io
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from gfcore.data.images import load_rgb
from gfcore.errors import GfpError
from gfcore.service.limits import ServiceLimits
from gfcore.service.response import fingerprint_responses


@dataclass(frozen=True)
class Options:
    open_set: bool | None = None
    policy: str = "tiles"
    upsample_small: bool = False
    response: bool = False  # visNet: each image's fingerprint response (a picture and its strengths)


@dataclass
class Job:
    uploads: list[tuple[str, bytes]]  # (file name, encoded image)
    options: Options
    future: asyncio.Future = field(repr=False)


class InferenceQueue:
    """Requests are admitted (:meth:`try_admit`) before their body is read, then :meth:`submit` their
    uploads; one worker answers them in order."""

    def __init__(self, model, limits: ServiceLimits):
        self.model, self.limits = model, limits
        self.admitted = 0  # requests between try_admit and release
        self.answered_images = 0
        self._pending: deque[Job] = deque()
        self._wake: asyncio.Event | None = None
        self._worker: asyncio.Task | None = None
        # one thread for every forward pass: torch's per-thread state (thread pools, caches) is built once
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="gfp-inference")

    def try_admit(self) -> bool:
        if self.admitted >= self.limits.max_waiting:
            return False
        self.admitted += 1
        return True

    def release(self) -> None:
        self.admitted -= 1

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._worker = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            try:
                await self._worker
            except asyncio.CancelledError:
                pass
        self._thread.shutdown(wait=True)

    async def submit(self, uploads: list[tuple[str, bytes]], options: Options) -> list[dict]:
        """One entry per upload, in order: the :class:`~gfcore.inference.model.Prediction` as a dict with
        the upload's ``name``, or ``{"name", "error"}`` for an upload that could not be attributed."""
        job = Job(uploads, options, asyncio.get_running_loop().create_future())
        self._pending.append(job)
        self._wake.set()
        return await job.future

    async def _run(self) -> None:
        while True:
            if not self._pending:
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._next_batch()
            try:
                answers = await asyncio.get_running_loop().run_in_executor(self._thread, self._answer, batch)
            except Exception as exc:  # noqa: BLE001 -- a failure answers its requests and the service goes on
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            for job, answer in zip(batch, answers):
                if not job.future.done():  # the client may have gone
                    job.future.set_result(answer)

    def _next_batch(self) -> list[Job]:
        """The oldest job, and after it every waiting job with the same options that still fits."""
        first = self._pending.popleft()
        batch, images = [first], len(first.uploads)
        for job in list(self._pending):
            if job.options == first.options and images + len(job.uploads) <= self.limits.batch_images:
                self._pending.remove(job)
                batch.append(job)
                images += len(job.uploads)
        return batch

    def _answer(self, batch: list[Job]) -> list[list[dict]]:
        """Every upload of the batch answered, decoded and attributed a group at a time: at most
        ``batch_images`` images and, past the first, ``batch_pixels`` pixels, so that the decoded images
        and their tiles in memory stay bounded however large the uploads are."""
        uploads = [upload for job in batch for upload in job.uploads]
        entries: list[dict] = []
        group: list[tuple[str, object]] = []  # (name, decoded array or the GfpError that refused it)
        pixels = 0
        for name, data in uploads:
            try:
                rgb = load_rgb(io.BytesIO(data), name=name, max_pixels=self.limits.max_pixels)
            except GfpError as exc:
                rgb = exc
            size = rgb.shape[0] * rgb.shape[1] if not isinstance(rgb, GfpError) else 0
            if group and (len(group) >= self.limits.batch_images or pixels + size > self.limits.batch_pixels):
                entries += self._attribute_group(group, batch[0].options)
                group, pixels = [], 0
            group.append((name, rgb))
            pixels += size
        entries += self._attribute_group(group, batch[0].options)
        split, start = [], 0
        for job in batch:
            split.append(entries[start : start + len(job.uploads)])
            start += len(job.uploads)
        return split

    def _attribute_group(self, group: list[tuple[str, object]], options: Options) -> list[dict]:
        decoded = [(k, name, rgb) for k, (name, rgb) in enumerate(group) if not isinstance(rgb, GfpError)]
        entries = [
            {"name": name, "error": str(rgb)} if isinstance(rgb, GfpError) else {"name": name}
            for name, rgb in group
        ]
        if not decoded:
            return entries
        arrays = [rgb for _, _, rgb in decoded]
        answers = self.model.predict_arrays(
            arrays,
            [name for _, name, _ in decoded],
            open_set=options.open_set,
            policy=options.policy,
            upsample_small=options.upsample_small,
            batch_size=self.limits.batch_images,
        )
        good = [j for j, answer in enumerate(answers) if not isinstance(answer, GfpError)]
        responses = {}
        if options.response:
            pictures = fingerprint_responses(
                self.model, [arrays[j] for j in good], options.policy, options.upsample_small
            )
            responses = dict(zip(good, pictures))
        for j, ((k, _, _), answer) in enumerate(zip(decoded, answers)):
            if isinstance(answer, GfpError):
                entries[k]["error"] = str(answer)
                continue
            result = answer.as_dict()
            del result["path"]  # uploads have names, not paths
            entries[k].update(result)
            if options.response:
                entries[k]["fingerprint_response"] = responses[j]
        self.answered_images += len(decoded)
        return entries

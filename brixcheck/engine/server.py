"""One emulated vLLM OpenAI server: lifecycle, routes and faults.

Lifecycle: LOADING (model-load phase; /health answers 503, or nothing listens with
`--no-emu-listen-while-loading`, as real vLLM) -> READY, or FAILED with vLLM's start-up error.
A crash fault drops every connection and closes the port, like a dead process (CRASHED); a hang
fault stops stepping and answering, /health included. `exited` resolves with the exit code.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from enum import StrEnum

from brixcheck.engine.api import (
    CHAT_PATH,
    COMPLETIONS_PATH,
    ApiError,
    GenerationRequest,
    check_context,
    parse_generation,
)
from brixcheck.engine.args import EngineArgs
from brixcheck.engine.core import EngineCore
from brixcheck.engine.http import Connection, Request
from brixcheck.engine.kv_connector import NixlConnector
from brixcheck.engine.kvcache import BlockPool, block_hashes
from brixcheck.engine.latency import LatencyModel, MemoryPlan
from brixcheck.engine.logs import EngineLog
from brixcheck.engine.metrics import EngineMetrics, GaugeState, MetricNames, RequestTimes
from brixcheck.engine.profiles import GIB, get_profile
from brixcheck.engine.scheduler import Scheduler, Sequence, StepPlan
from brixcheck.engine.sink import GROUND_TRUTH_HEADER, ResponseMeta, ResponseSink
from brixcheck.engine.startup import (
    ENGINE_INIT_FAILED,
    StartupError,
    check_free_memory,
    check_kv_capacity,
)
from brixcheck.engine.tokenizer import natural_length, output_piece, prompt_hash, tokenize

VLLM_VERSION = "0.11.0"
NOT_FOUND = b'{"detail":"Not Found"}'


class EngineState(StrEnum):
    """Where an engine is in its life."""

    LOADING = "loading"
    READY = "ready"
    FAILED = "failed"
    CRASHED = "crashed"
    STOPPED = "stopped"


class Engine:
    """An emulated vLLM server bound to one address and port."""

    def __init__(self, args: EngineArgs, bind_host: str | None = None,
                 log: EngineLog | None = None) -> None:
        self.args = args
        self.profile = get_profile(args.profile)
        self.host = bind_host or args.host
        self.port = args.port
        self.log = log or EngineLog()
        self.state = EngineState.LOADING
        self.max_model_len = args.max_model_len or self.profile.model.max_model_len
        self.hung = False
        self.error_rate = args.error_rate
        self.exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._rng = random.Random(args.seed)
        self._conns: set[Connection] = set()
        self._sinks: dict[Sequence, ResponseSink] = {}
        self._server: asyncio.Server | None = None
        self._core: EngineCore | None = None
        self._metrics: EngineMetrics | None = None
        self._unhung = asyncio.Event()
        self._counter = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._connector = (None if args.kv_transfer is None
                           else NixlConnector(args.kv_transfer, args.seed, self.address))

    @property
    def address(self) -> str:
        """host:port as AIBrix writes it in `target-pod`."""
        return f"{self.host}:{self.port}"

    async def start(self) -> None:
        """Begin start-up; returns once listening (or at once when listening comes later)."""
        self._log_header()
        if self.args.listen_while_loading:
            await self._listen()
        self._spawn(self._startup())

    async def stop(self) -> None:
        """Shut down gracefully (SIGTERM)."""
        if self.state in (EngineState.LOADING, EngineState.READY):
            self.log.info("launcher.py:99", "Shutting down FastAPI HTTP server.")
            await self._shutdown(EngineState.STOPPED, 0, abort=False)

    def crash(self) -> None:
        """Die like an engine whose core process was killed."""
        if self.state in (EngineState.LOADING, EngineState.READY):
            self.log.error("core_client.py:564", "Engine core proc EngineCore_DP0 died "
                           "unexpectedly, shutting down client.")
            self._spawn(self._shutdown(EngineState.CRASHED, 1, abort=True))

    def set_hung(self, hung: bool) -> None:
        """Stop (or resume) stepping and answering."""
        self.hung = hung
        if self._core is not None:
            self._core.pause(hung)
        if hung:
            self._unhung.clear()
        else:
            self._unhung.set()

    def set_slowdown(self, factor: float) -> None:
        """Multiply every step time by `factor`."""
        if self._core is not None:
            self._core.scheduler.latency.slowdown = factor

    def set_metric_names(self, names: MetricNames) -> None:
        """Switch /metrics between vLLM v0.11 names and the legacy ones."""
        if self._metrics is not None:
            self._metrics.set_names(names)

    # start-up
    def _log_header(self) -> None:
        self.log.info("api_server.py:1839", f"vLLM API server version {VLLM_VERSION}")
        self.log.info("utils.py:233", f"non-default args: {{'model': {self.args.model!r}, "
                      f"'gpu_memory_utilization': {self.args.gpu_memory_utilization}}}")
        self.log.info("model.py:1510", f"Using max model len {self.max_model_len}")

    async def _startup(self) -> None:
        try:
            check_free_memory(self.profile, self.args)
            await self._load_model()
            plan = check_kv_capacity(self.profile, self.args, self.max_model_len)
        except StartupError as exc:
            self.log.error("core.py:708", "EngineCore failed to start.")
            self.log.raw(str(exc))
            self.log.raw(ENGINE_INIT_FAILED)
            await self._shutdown(EngineState.FAILED, 1, abort=True)
            return
        self._build(plan)
        if self._server is None:
            await self._listen()
        self.log.info("api_server.py:1880", f"Starting vLLM API server 0 on "
                      f"http://{self.args.host}:{self.port}")
        self.log.raw("INFO:     Application startup complete.")
        self.state = EngineState.READY

    async def _load_model(self) -> None:
        model = self.profile.model
        seconds = self.args.load_time_s
        if seconds is None:
            seconds = self.profile.load_time_s
        seconds *= self.args.load_time_factor
        self.log.info("gpu_model_runner.py:2602", f"Starting to load model {self.args.model}...")
        await asyncio.sleep(seconds)
        self.log.info("gpu_model_runner.py:2653", f"Model loading took "
                      f"{model.weight_bytes / GIB:.4f} GiB and {seconds:.6f} seconds")

    def _build(self, plan: MemoryPlan) -> None:
        args, profile = self.args, self.profile
        self.log.info("gpu_worker.py:298", f"Available KV cache memory: "
                      f"{plan.kv_cache_bytes / GIB:.2f} GiB")
        self.log.info("kv_cache_utils.py:1087", f"GPU KV cache size: {plan.kv_cache_tokens:,} "
                      "tokens")
        self.log.info("kv_cache_utils.py:1091", f"Maximum concurrency for "
                      f"{self.max_model_len:,} tokens per request: "
                      f"{plan.kv_cache_tokens / self.max_model_len:.2f}x")
        if self._connector is not None:
            self.log.info("factory.py:64", "Creating v1 connector with name: NixlConnector and "
                          f"engine_id: {self._connector.engine_id}")
        pool = BlockPool(plan.num_blocks, args.block_size, args.enable_prefix_caching)
        scheduler = Scheduler(
            pool, LatencyModel(profile, args.slowdown),
            args.max_num_seqs or profile.default_max_num_seqs,
            args.max_num_batched_tokens or profile.default_max_num_batched_tokens,
        )
        cache_info = {"block_size": str(args.block_size), "num_gpu_blocks": str(plan.num_blocks),
                      "gpu_memory_utilization": str(args.gpu_memory_utilization),
                      "enable_prefix_caching": str(args.enable_prefix_caching)}
        self._metrics = EngineMetrics(args.served_name, args.metric_names, self.max_model_len,
                                      cache_info, self._gauges)
        self._core = EngineCore(scheduler, self._on_token, self._on_step)
        self._core.start()
        if self.hung:
            self._core.pause(True)

    async def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: Connection(self.handle, self._conns.add, self._conns.discard),
            self.host, self.port, reuse_address=True,
        )

    async def _shutdown(self, state: EngineState, code: int, abort: bool) -> None:
        self.state = state
        if self._server is not None:
            self._server.close()
        for conn in list(self._conns):
            conn.abort() if abort else conn.close()
        if self._core is not None:
            await self._core.stop()
        if not self.exited.done():
            self.exited.set_result(code)

    def _spawn(self, coro: object) -> None:
        task = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("server.py", f"emulator bug: {task.exception()!r}")
            if not self.exited.done():
                self.exited.set_result(1)

    # routes
    async def handle(self, req: Request, conn: Connection) -> None:
        """Answer one HTTP request."""
        if self.hung:
            await self._wait_unhung(conn)
            if conn.closed:
                return
        routes = {
            "/health": ("GET", self._health), "/metrics": ("GET", self._metrics_page),
            "/v1/models": ("GET", self._models), "/version": ("GET", self._version),
            "/ping": ("GET POST", self._health), "/reset_prefix_cache": ("POST", self._reset),
            CHAT_PATH: ("POST", self._chat), COMPLETIONS_PATH: ("POST", self._completion),
        }
        route = routes.get(req.path)
        if route is None:
            conn.send(404, NOT_FOUND)
        elif req.method not in route[0].split():
            conn.send(405, b'{"detail":"Method Not Allowed"}')
        elif self.state is not EngineState.READY:
            conn.send(503, b"")
        else:
            await route[1](req, conn)

    async def _wait_unhung(self, conn: Connection) -> None:
        gone = asyncio.ensure_future(conn.disconnected.wait())
        resumed = asyncio.ensure_future(self._unhung.wait())
        await asyncio.wait([gone, resumed], return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        resumed.cancel()

    async def _health(self, req: Request, conn: Connection) -> None:
        conn.send(200, b"")

    async def _version(self, req: Request, conn: Connection) -> None:
        conn.send(200, json.dumps({"version": VLLM_VERSION}).encode())

    async def _metrics_page(self, req: Request, conn: Connection) -> None:
        assert self._metrics is not None
        conn.send(200, self._metrics.exposition(), b"text/plain; version=0.0.4; charset=utf-8")

    async def _reset(self, req: Request, conn: Connection) -> None:
        assert self._core is not None
        if self._core.scheduler.pool.reset_prefix_cache():
            conn.send(200, b"")
        else:
            conn.send(400, ApiError(400, "Failed to reset prefix cache: blocks in use").body())

    async def _models(self, req: Request, conn: Connection) -> None:
        if not self._authorized(req, conn):
            return
        card = {"id": self.args.served_name, "object": "model", "created": int(time.time()),
                "owned_by": "vllm", "root": self.args.model, "parent": None,
                "max_model_len": self.max_model_len}
        conn.send(200, json.dumps({"object": "list", "data": [card]}).encode())

    async def _chat(self, req: Request, conn: Connection) -> None:
        await self._generate("chat", req, conn)

    async def _completion(self, req: Request, conn: Connection) -> None:
        await self._generate("completion", req, conn)

    def _authorized(self, req: Request, conn: Connection) -> bool:
        key = self.args.api_key
        if key is None or req.headers.get("authorization") == f"Bearer {key}":
            return True
        conn.send(401, b'{"error":"Unauthorized"}')
        return False

    # generation
    async def _generate(self, kind: str, req: Request, conn: Connection) -> None:
        if not self._authorized(req, conn):
            return
        try:
            gen = parse_generation(kind, req.body)
            if gen.model and gen.model not in (self.args.served_name, self.args.model):
                raise ApiError(404, f"The model `{gen.model}` does not exist.", "NotFoundError")
            prompt_ids = list(gen.prompt_token_ids or tokenize(gen.prompt_text))
            max_tokens = check_context(self.max_model_len, len(prompt_ids), gen.max_tokens)
        except ApiError as exc:
            conn.send(exc.status, exc.body())
            return
        if self.error_rate and self._rng.random() < self.error_rate:
            error = ApiError(500, "Internal server error (brixcheck injected fault)",
                             "InternalServerError")
            conn.send(500, error.body())
            return
        meta = self._meta(kind, req)
        seq = self._sequence(gen, prompt_ids, max_tokens, req.arrival_s, meta.request_id)
        sink = ResponseSink(conn, gen, seq, meta, self._connector)
        await self._serve(sink)

    async def _serve(self, sink: ResponseSink) -> None:
        assert self._core is not None
        self._sinks[sink.seq] = sink
        sink.start()
        self._core.submit(sink.seq)
        gone = asyncio.ensure_future(sink.conn.disconnected.wait())
        await asyncio.wait([sink.done, gone], return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if not sink.done.done():
            self._core.scheduler.abort(sink.seq)
            self._sinks.pop(sink.seq, None)

    def _sequence(self, gen: GenerationRequest, prompt_ids: list[int], max_tokens: int,
                  arrival_s: float, request_id: str) -> Sequence:
        """Decide the output length: EOS at a seeded natural length unless `ignore_eos`."""
        digest = prompt_hash(prompt_ids)
        stop_at = max(gen.min_tokens, natural_length(self.args.seed, digest,
                                                     self.profile.model.mean_output_tokens))
        if gen.ignore_eos or stop_at >= max_tokens:
            length, reason = max_tokens, "length"
        else:
            length, reason = stop_at, "stop"
        return Sequence(
            request_id=request_id, prompt_ids=prompt_ids,
            block_hashes=block_hashes(prompt_ids, self.args.block_size),
            max_output=length, stop_reason=reason, arrival_s=arrival_s, prompt_hash=digest,
            max_tokens=max_tokens, remote_prefill=self._connector is not None
            and self._connector.loads_remote_prefill(gen.kv_transfer_params),
        )

    def _meta(self, kind: str, req: Request) -> ResponseMeta:
        self._counter += 1
        base = req.headers.get("x-request-id") or f"{self.args.seed:08x}{self._counter:024x}"
        prefix = "chatcmpl-" if kind == "chat" else "cmpl-"
        return ResponseMeta(
            request_id=prefix + base, created=int(time.time()), model=self.args.served_name,
            report_cached=self.args.enable_prompt_tokens_details,
            ground_truth=req.headers.get(GROUND_TRUTH_HEADER) == "1", engine=self.address,
        )

    # core callbacks
    def _on_token(self, seq: Sequence, end_s: float) -> None:
        sink = self._sinks.get(seq)
        if sink is None:
            return
        sink.token(output_piece(self.args.seed, seq.prompt_hash, seq.num_output - 1))
        assert self._metrics is not None
        times = seq.token_times_s
        if len(times) > 1:
            self._metrics.observe_token_gap(times[-1] - times[-2])
        if seq.finished:
            del self._sinks[seq]
            self._metrics.observe_request(RequestTimes(
                arrival_s=seq.arrival_s, scheduled_s=seq.first_scheduled_s or seq.arrival_s,
                first_token_s=times[0], finished_s=end_s, prompt_tokens=len(seq.prompt_ids),
                output_tokens=seq.num_output, max_tokens=seq.max_tokens,
                finish_reason=seq.stop_reason,
            ))

    def _on_step(self, plan: StepPlan) -> None:
        assert self._metrics is not None
        self._metrics.iteration_tokens.observe(plan.num_tokens)

    def _gauges(self) -> GaugeState:
        assert self._core is not None
        scheduler = self._core.scheduler
        stats = scheduler.stats
        return GaugeState(
            running=len(scheduler.running), waiting=len(scheduler.waiting),
            kv_usage=scheduler.pool.usage(), preemptions=stats.preemptions,
            prefix_queries=stats.prefix_queries, prefix_hits=stats.prefix_hits,
            prompt_tokens=stats.prompt_tokens, generation_tokens=stats.generation_tokens,
        )

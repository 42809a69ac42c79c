"""A generations backend written from the seed documents (seeds/000 and 002), the way their
FastAPI service is described: the create, status, stream-token and stream endpoints under /api,
their request and response bodies, FastAPI's own 422 validation errors, and the fault switches
of `sse-doctor serve --list-faults`, so both backends can be checked alike.

Runs on Debian's fastapi 0.92 / pydantic 1 and on current fastapi / pydantic 2 (the seed's 422
shape is pydantic 2's; pydantic 1 says the same in its own words).
"""

import asyncio
import json
import re
import secrets
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Deque, Dict, List, Literal, Optional, Set, Tuple

from fastapi import APIRouter, FastAPI, Header, HTTPException, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

FAULTS = (
    "immediate-close",
    "no-rate-limit",
    "no-heartbeat",
    "buffered",
    "reusable-token",
    "linger",
    "drop-mid-stream",
    "terminal-500",
    "no-resume",
    "wrong-content-type",
    "no-connected",
    "no-trace",
    "open-stream",
    "no-auth",
    "cross-user",
)

TERMINAL_STATUSES = ("completed", "failed", "cancelled")
# Seed 002's own failure, word for word.
INSPECTION_ERROR = "No inspection system is available for object of type <class 'type'>"
FAILING_PROMPT = re.compile(r"\bfail\b", re.IGNORECASE)
ANONYMOUS = "anonymous"


@dataclass(frozen=True)
class Timings:
    # A generation thinks in silence from 5% to 70% of it: 7.8 s here, clearly past the contract's
    # 5 s heartbeat interval, so a missing heartbeat shows at the defaults. (At 8 s it thought for
    # 5.2 s, and a client that connected a little late never saw a silence past 5 s.)
    generation_ms: int = 12000
    heartbeat_ms: int = 5000
    stream_max_ms: int = 60000
    token_ttl_ms: int = 60000
    rate_window_ms: int = 60000
    rate_limit: int = 10


@dataclass(frozen=True)
class Settings:
    timings: Timings
    faults: frozenset

    def has(self, fault: str) -> bool:
        return fault in self.faults


class GenerationCreate(BaseModel):
    """Seed 002, "Request Body (Expected Structure)"."""

    prompt: str = Field(..., min_length=10)
    project_id: Optional[str] = None
    context: Optional[Dict[str, Any]] = None
    generation_mode: Literal["phased", "unified"] = "phased"
    is_iteration: bool = False
    parent_generation_id: Optional[str] = None


@dataclass
class StreamEvent:
    id: int
    type: Optional[str]
    data: Dict[str, Any]


@dataclass
class Generation:
    id: str
    user_id: str
    prompt: str
    project_id: str
    project_name: str
    created_at: str
    status: str = "pending"
    progress: float = 0.0
    error_message: Optional[str] = None
    events: List[StreamEvent] = field(default_factory=list)
    streams_opened: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def record(self, event_type: Optional[str], status: str, stage: str, progress: float, message: str) -> None:
        self.status = status
        self.progress = progress
        data = progress_event(self, stage, message)
        self.events.append(StreamEvent(len(self.events) + 1, event_type, data))
        # Wakes every stream waiting on this generation; later waiters take the fresh event.
        self.changed.set()
        self.changed = asyncio.Event()


def progress_event(generation: Generation, stage: str, message: str, **extra: Any) -> Dict[str, Any]:
    """The event data of seed 002's stream example."""
    return {
        "generation_id": generation.id,
        "status": generation.status,
        "stage": stage,
        "progress": generation.progress,
        "message": message,
        "timestamp": time.time(),
        **extra,
    }


def frame(data: Dict[str, Any], event_id: Optional[int] = None, event_type: Optional[str] = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    if event_type is not None:
        lines.append(f"event: {event_type}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'))}")
    return "\n".join(lines) + "\n\n"


CONTENT = [
    "from fastapi import FastAPI\n",
    "app = FastAPI()\n",
    "@app.get('/items')\n",
    "async def items():\n",
    "    return []\n",
]


async def run_generation(generation: Generation, timings: Timings) -> None:
    """The orchestrator of seed 002: planning, a long think, the code in chunks, then done or failed."""
    total = timings.generation_ms / 1000
    started = time.monotonic()

    async def until(fraction: float) -> None:
        await asyncio.sleep(max(0.0, started + fraction * total - time.monotonic()))

    await until(0.05)
    generation.record(None, "processing", "planning", 0.2, "Planning architecture...")
    if FAILING_PROMPT.search(generation.prompt):
        await until(0.75)
        generation.error_message = INSPECTION_ERROR
        generation.record("error", "failed", "error", generation.progress, INSPECTION_ERROR)
        return
    # The model thinks in silence for most of the generation: only heartbeats fill it.
    for index, chunk in enumerate(CONTENT):
        await until(0.7 + index * 0.05)
        generation.record("content_chunk", "processing", "generating", round(0.5 + index * 0.1, 2), chunk)
    await until(1.0)
    generation.record("complete", "completed", "complete", 1.0, "Generation complete")


class TokenStore:
    """Seed 002: URL-safe, single use, valid `expires_in` seconds."""

    def __init__(self, ttl_ms: int) -> None:
        self.ttl = ttl_ms / 1000
        self.tokens: Dict[str, Tuple[str, float]] = {}

    def issue(self, generation_id: str) -> str:
        now = time.monotonic()
        for token, (_, expires) in list(self.tokens.items()):
            if expires <= now:
                del self.tokens[token]
        token = secrets.token_urlsafe(32)
        self.tokens[token] = (generation_id, now + self.ttl)
        return token

    def redeem(self, token: str, generation_id: str, reusable: bool) -> bool:
        issued = self.tokens.get(token)
        if issued is None or issued[0] != generation_id or issued[1] <= time.monotonic():
            return False
        if not reusable:
            del self.tokens[token]
        return True


class RateLimiter:
    """Seed 002: 10 token requests per minute per (user, generation), the ones answered 400 included."""

    def __init__(self, limit: int, window_ms: int) -> None:
        self.limit = limit
        self.window = window_ms / 1000
        self.requests: Dict[Tuple[str, str], Deque[float]] = {}

    def retry_after(self, key: Tuple[str, str]) -> Optional[int]:
        """None when the request may go on (and is counted); else the seconds to wait."""
        now = time.monotonic()
        times = self.requests.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.limit:
            return max(1, int(times[0] + self.window - now + 0.999))
        times.append(now)
        return None


def project_name(prompt: str) -> str:
    """Seed 002 names an auto-created project after its prompt ("Create a REST API..." -> "Rest Api")."""
    words = [word for word in re.findall(r"[A-Za-z]+", prompt) if word.lower() not in ("create", "a", "an", "the", "with", "build", "write")]
    return " ".join(word.capitalize() for word in words[:2]) or "Untitled"


def iso_now() -> str:
    return datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")


def create_app(settings: Settings) -> FastAPI:
    timings = settings.timings
    generations: Dict[str, Generation] = {}
    tokens = TokenStore(timings.token_ttl_ms)
    rate = RateLimiter(timings.rate_limit, timings.rate_window_ms)
    running: Set[asyncio.Task] = set()

    app = FastAPI(title="generations")
    router = APIRouter(prefix="/generations")

    def current_user(authorization: Optional[str]) -> str:
        match = re.match(r"^Bearer\s+(\S.*)$", authorization or "", re.IGNORECASE)
        if match:
            return match.group(1).strip()
        if settings.has("no-auth"):
            return ANONYMOUS
        raise HTTPException(status_code=401, detail="Not authenticated", headers={"WWW-Authenticate": "Bearer"})

    def owned(generation_id: str, user: str, any_owner: bool = False) -> Generation:
        generation = generations.get(generation_id)
        visible = generation is not None and (any_owner or user == ANONYMOUS or generation.user_id == user)
        if generation is None or not visible:
            raise HTTPException(status_code=404, detail="Generation not found")
        return generation

    @router.post("/generate", status_code=201)
    async def create_generation(body: GenerationCreate, authorization: Optional[str] = Header(None)) -> Dict[str, Any]:
        user = current_user(authorization)
        project_id = body.project_id or str(uuid.uuid4())
        generation = Generation(
            id=str(uuid.uuid4()),
            user_id=user,
            prompt=body.prompt,
            project_id=project_id,
            project_name=project_name(body.prompt),
            created_at=iso_now(),
        )
        generations[generation.id] = generation
        task = asyncio.get_running_loop().create_task(run_generation(generation, timings))
        running.add(task)
        task.add_done_callback(running.discard)
        return {
            "id": generation.id,
            "status": "pending",
            "user_id": user,
            "project_id": project_id,
            "project_name": generation.project_name,
            "project_domain": "general",
            "auto_created_project": body.project_id is None,
            "prompt": body.prompt,
            "created_at": generation.created_at,
        }

    @router.get("/{generation_id}")
    async def generation_status(generation_id: str, authorization: Optional[str] = Header(None)) -> Dict[str, Any]:
        generation = owned(generation_id, current_user(authorization))
        return {
            "id": generation.id,
            "status": generation.status,
            "user_id": generation.user_id,
            "project_id": generation.project_id,
            "prompt": generation.prompt,
            "progress": generation.progress,
            "error_message": generation.error_message,
            "created_at": generation.created_at,
        }

    @router.post("/generate/{generation_id}/stream-token")
    async def stream_token(generation_id: str, authorization: Optional[str] = Header(None)) -> Dict[str, Any]:
        user = current_user(authorization)
        generation = owned(generation_id, user, any_owner=settings.has("cross-user"))
        if not settings.has("no-rate-limit"):
            wait = rate.retry_after((user, generation_id))
            if wait is not None:
                per = "minute" if timings.rate_window_ms == 60000 else f"{timings.rate_window_ms / 1000:g} seconds"
                raise HTTPException(
                    status_code=429,
                    detail=f"Too many token requests. Maximum {timings.rate_limit} requests per {per}. Please wait before retrying.",
                    headers={"Retry-After": str(wait)},
                )
        if not settings.has("immediate-close"):
            if generation.status in ("failed", "cancelled"):
                if settings.has("terminal-500") and generation.status == "failed":
                    # The seed's backend before its fix: the error escapes the route, FastAPI answers 500.
                    raise RuntimeError(generation.error_message)
                raise HTTPException(status_code=400, detail=f"Generation has {generation.status}. Error: {generation.error_message}. Cannot stream.")
            if generation.status == "completed":
                raise HTTPException(status_code=400, detail="Generation already completed. Streaming not available.")
        ttl_seconds = timings.token_ttl_ms / 1000
        return {
            "sse_token": tokens.issue(generation_id),
            "expires_in": int(ttl_seconds) if ttl_seconds.is_integer() else ttl_seconds,
            "stream_url": f"/generations/generate/{generation_id}/stream",
            "generation_id": generation_id,
        }

    @router.get("/generate/{generation_id}/stream")
    async def stream(
        generation_id: str,
        token: Optional[str] = Query(None) if settings.has("open-stream") else Query(...),
        last_event_id: Optional[str] = Header(None),
    ) -> StreamingResponse:
        if not settings.has("open-stream"):
            if token is None or not tokens.redeem(token, generation_id, settings.has("reusable-token")):
                raise HTTPException(status_code=401, detail="Invalid or expired SSE token")
        generation = generations.get(generation_id)
        if generation is None:
            raise HTTPException(status_code=404, detail="Generation not found")
        generation.streams_opened += 1
        after = 0 if settings.has("no-resume") else parse_event_id(last_event_id)
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        if not settings.has("no-trace"):
            headers["X-Trace-ID"] = str(uuid.uuid4())
        if timings.stream_max_ms > 0:
            headers["X-Stream-Max-Seconds"] = f"{timings.stream_max_ms / 1000:g}"
        if timings.heartbeat_ms > 0:
            headers["X-Heartbeat-Interval"] = f"{timings.heartbeat_ms / 1000:g}"
        media_type = "text/plain" if settings.has("wrong-content-type") else "text/event-stream"
        if settings.has("immediate-close") and generation.status in TERMINAL_STATUSES:
            # The seed's retry-storm trigger: a 200 stream that ends before any event.
            return StreamingResponse(iter(()), media_type=media_type, headers=headers)
        cut_early = settings.has("drop-mid-stream") and generation.streams_opened == 1
        return StreamingResponse(event_stream(generation, after, settings, cut_early), media_type=media_type, headers=headers)

    app.include_router(router, prefix="/api")
    return app


def parse_event_id(raw: Optional[str]) -> int:
    return int(raw.strip()) if raw is not None and raw.strip().isdigit() else 0


class StreamDropped(Exception):
    """Raised inside the stream, as a crashing worker does: uvicorn drops the connection mid-body."""


async def event_stream(generation: Generation, after: int, settings: Settings, cut_early: bool):
    timings = settings.timings
    heartbeat = 0 if settings.has("no-heartbeat") else timings.heartbeat_ms / 1000
    opened = time.monotonic()
    cap_at = opened + timings.stream_max_ms / 1000 if timings.stream_max_ms > 0 else None
    # The `buffered` fault holds frames back like a buffering proxy, flushing a few times per generation.
    flush_every = max(0.25, timings.generation_ms / 3000) if settings.has("buffered") else None
    held: List[str] = []
    next_flush = opened + (flush_every or 0)
    last_write = opened
    sent = after
    logged = 0

    def out(text: str) -> Optional[str]:
        nonlocal last_write
        last_write = time.monotonic()
        if flush_every is None:
            return text
        held.append(text)
        return None

    if not settings.has("no-connected"):
        # The progress the client already has, so progress never goes backwards across the replay.
        known = generation.events[after - 1].data["progress"] if 0 < after <= len(generation.events) else 0.0
        connected = out(frame(progress_event(generation, "connected", "Stream connected", progress=known)))
        if connected:
            yield connected
    ended = False
    while True:
        for event in generation.events[sent:]:
            sent = event.id
            text = out(frame(event.data, event.id, event.type))
            if text:
                yield text
            logged += 1
            if cut_early and logged == 1:
                raise StreamDropped("stream dropped mid-body (drop-mid-stream)")
            ended = ended or event.data["status"] in TERMINAL_STATUSES
        if not ended and generation.status in TERMINAL_STATUSES:
            # Resumed past the end: seed 000's "Terminal State Event" instead of a silent close.
            text = out(frame(progress_event(generation, "terminal", generation.error_message or f"Generation {generation.status}")))
            if text:
                yield text
            ended = True
        if ended and not settings.has("linger"):
            break
        now = time.monotonic()
        if cap_at is not None and now >= cap_at:
            text = out(frame(progress_event(generation, "timeout", "Stream duration cap reached", reason="duration_cap"), event_type="complete"))
            if text:
                yield text
            break
        if heartbeat > 0 and now - last_write >= heartbeat:
            text = out(": heartbeat\n\n")
            if text:
                yield text
        if flush_every is not None and now >= next_flush:
            next_flush = now + flush_every
            if held:
                yield "".join(held)
                held.clear()
        deadlines = [d for d in (cap_at, last_write + heartbeat if heartbeat > 0 else None, next_flush if flush_every else None) if d is not None]
        timeout = max(0.005, min(deadlines) - time.monotonic()) if deadlines else None
        waiter = generation.changed
        if len(generation.events) > sent:
            continue
        try:
            await asyncio.wait_for(waiter.wait(), timeout)
        except asyncio.TimeoutError:
            pass
    if held:
        yield "".join(held)

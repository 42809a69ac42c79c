"""Event streams served by the third-party sse-starlette library (EventSourceResponse), as generic
SSE and LLM backends serve them; nothing here follows sse-doctor's generations contract.

- GET /events?count=N&interval_ms=M : typed `content_chunk` events with ids, then a terminal
  `complete` event, then the server closes.
- GET or POST /v1/chat/completions?count=N&interval_ms=M : an OpenAI-style chat completion stream,
  `chat.completion.chunk` objects ending with `data: [DONE]`, then the server closes.

sse-starlette's own ping comments (every --ping-seconds) fill the silences. It binds 127.0.0.1 on
a port of its own and prints its base URL as its first stdout line.
"""

import argparse
import asyncio
import json
import sys
import time
import uuid

from sse_starlette.sse import EventSourceResponse
from starlette.applications import Starlette
from starlette.routing import Route
from uvicorn_target import run_on_free_port

WORDS = ["Server", "-Sent", " Events", " stream", " tokens", " as", " they", " are", " made", "."]


def create_app(ping_seconds, default_interval_ms):
    def shape(request):
        count = int(request.query_params.get("count", "5"))
        interval = int(request.query_params.get("interval_ms", str(default_interval_ms))) / 1000
        return count, interval

    async def events(request):
        count, interval = shape(request)

        async def generate():
            for index in range(count):
                await asyncio.sleep(interval)
                content = WORDS[index % len(WORDS)]
                yield {"id": str(index + 1), "event": "content_chunk", "data": json.dumps({"index": index, "content": content, "timestamp": time.time()})}
            yield {"id": str(count + 1), "event": "complete", "data": json.dumps({"reason": "done", "total_chunks": count, "timestamp": time.time()})}

        return EventSourceResponse(generate(), ping=ping_seconds)

    async def chat_completions(request):
        count, interval = shape(request)
        completion = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())

        def chunk(delta, finish_reason=None):
            body = {
                "id": completion,
                "object": "chat.completion.chunk",
                "created": created,
                "model": "gpt-test",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
            }
            return {"data": json.dumps(body, separators=(",", ":"))}

        async def generate():
            yield chunk({"role": "assistant", "content": ""})
            for index in range(count):
                await asyncio.sleep(interval)
                yield chunk({"content": WORDS[index % len(WORDS)]})
            yield chunk({}, "stop")
            yield {"data": "[DONE]"}

        return EventSourceResponse(generate(), ping=ping_seconds)

    return Starlette(
        routes=[
            Route("/events", events),
            Route("/v1/chat/completions", chat_completions, methods=["GET", "POST"]),
        ]
    )


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ping-seconds", type=float, default=15, help="sse-starlette's ping interval (its default is 15)")
    parser.add_argument("--interval-ms", type=int, default=200, help="time between events unless ?interval_ms= says otherwise")
    parser.add_argument("--access-log", help="file for uvicorn's access log (stderr when absent)")
    args = parser.parse_args(argv)
    run_on_free_port(create_app(args.ping_seconds, args.interval_ms), args.access_log)


if __name__ == "__main__":
    main(sys.argv[1:])

"""A backend's calls to an upstream LLM API with seed 004's rate limiter (standard library only).

Seed 004, "Handle Rate Limits Gracefully": exponential backoff 1s -> 2s -> 4s -> ... capped at 60s,
at most 5 retries, Retry-After honoured, no retry on a 400. Each user call streams one chat
completion (OpenAI's SSE chunks or Ollama's NDJSON lines) to its end.

Driven by `sse-doctor judge --upstream openai|ollama`: the harness below asks the judge
(GET /__judge/next) which case waits and how many users to send at once, makes those calls,
and stops when the judge is gone.

    python3 seed004_caller.py http://127.0.0.1:PORT [--api openai|ollama] [--scale 0.03]

--scale multiplies the limiter's own delays so a test runs fast; a Retry-After is honoured as sent.
"""
import argparse
import json
import threading
import time
import urllib.error
import urllib.request


class RetryableError(Exception):
    def __init__(self, message, retry_after=None):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimiter:
    """Seed 004's RateLimiter: EXPONENTIAL_BACKOFF, initial_delay 1.0, max_delay 60.0, max_retries 5."""

    def __init__(self, initial_delay=1.0, max_delay=60.0, max_retries=5, scale=1.0):
        self.initial_delay = initial_delay
        self.max_delay = max_delay
        self.max_retries = max_retries
        self.scale = scale

    def delay(self, retry):
        return min(self.initial_delay * 2 ** (retry - 1), self.max_delay) * self.scale

    def execute_with_retry(self, call):
        retry = 0
        while True:
            try:
                return call()
            except RetryableError as error:
                retry += 1
                if retry > self.max_retries:
                    return None
                wait = error.retry_after if error.retry_after is not None else self.delay(retry)
                time.sleep(wait)


def chat(base, api):
    path = "/v1/chat/completions" if api == "openai" else "/api/chat"
    body = {"model": "judge", "stream": True, "messages": [{"role": "user", "content": "Say something about rate limits"}]}
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return read_stream(response, api)
    except urllib.error.HTTPError as error:
        if error.code == 429:
            header = error.headers.get("Retry-After")
            raise RetryableError("429", float(header) if header and header.strip().isdigit() else None)
        if error.code >= 500:
            raise RetryableError(str(error.code))
        # 4xx: the request itself is wrong; sending it again cannot help.
        return None
    except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
        raise RetryableError(str(error))


def read_stream(response, api):
    text = []
    try:
        for raw in response:
            line = raw.decode().strip()
            if api == "openai":
                if not line.startswith("data: "):
                    continue
                if line == "data: [DONE]":
                    return "".join(text)
                delta = json.loads(line[6:])["choices"][0]["delta"]
                text.append(delta.get("content", ""))
            elif line:
                chunk = json.loads(line)
                if chunk.get("done"):
                    return "".join(text)
                text.append(chunk["message"]["content"])
    except (ConnectionError, ValueError, OSError) as error:
        raise RetryableError(f"stream broken: {error}")
    raise RetryableError("stream ended before its end marker")


def next_case(base):
    with urllib.request.urlopen(base + "/__judge/next", timeout=5) as response:
        return json.loads(response.read())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("base")
    parser.add_argument("--api", default="openai", choices=["openai", "ollama"])
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    limiter = RateLimiter(scale=args.scale)
    while True:
        try:
            waiting = next_case(args.base)
        except (urllib.error.URLError, ConnectionError, OSError):
            return
        if not waiting["case"]:
            time.sleep(0.02)
            continue
        users = [threading.Thread(target=limiter.execute_with_retry, args=(lambda: chat(args.base, args.api),)) for _ in range(waiting["users"])]
        for user in users:
            user.start()
        for user in users:
            user.join()


if __name__ == "__main__":
    main()

"""A Python `websockets` client (the library yfinance's streaming client builds
on): connect, send the subscribe messages, read N messages (N < 0: until none
has come for 300 ms), close normally. Prints {"closing": true} just before
close() and then one JSON line: how long close() took and the close code.

usage: pyclose.py URL MESSAGES_JSON N CLOSE_TIMEOUT_S MAX_QUEUE(0 = unbounded)
"""
import asyncio
import json
import sys
import time

import websockets


async def main(url, messages, n, close_timeout, max_queue):
    async with websockets.connect(url, max_size=None, close_timeout=close_timeout, max_queue=max_queue or None) as ws:
        for m in messages:
            await ws.send(m)
        if n >= 0:
            for _ in range(n):
                await ws.recv()
        else:
            while True:
                try:
                    await asyncio.wait_for(ws.recv(), 0.3)
                except asyncio.TimeoutError:
                    break
        print(json.dumps({"closing": True}), flush=True)
        t = time.monotonic()
        await ws.close()
        print(json.dumps({"close_s": time.monotonic() - t, "code": ws.close_code}), flush=True)


asyncio.run(main(sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])))

"""The python3-websockets peer of bench/websocket.sh: a WebSocket echo server.

    /usr/bin/python3 bench/ws_echo.py PORT [HOST]

One process, asyncio's default event loop, Debian's python3-websockets (10.x). Any path is
accepted; each message comes back as it came (text as text, binary as binary). Pings from
the server are off (ping_interval=None) so that an idle connection is really idle, as on the
other servers; permessage-deflate is offered by websockets but the benchmark's client does
not ask for it.
"""
import asyncio
import sys

import websockets


async def echo(ws, _path=None):
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main(port, host):
    async with websockets.serve(echo, host, port, ping_interval=None, backlog=1024):
        print(f"listening on {host}:{port}", file=sys.stderr, flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"))

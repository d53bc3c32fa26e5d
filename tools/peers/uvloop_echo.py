#!/usr/bin/env python3
"""asyncio + uvloop server speaking the same protocol (welcome + "ok ..."
line echo), for docs/PERFORMANCE.md. Usage: uvloop_echo.py PORT_FILE"""
import asyncio
import os
import sys

import uvloop


class Echo(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.pending = b""
        transport.write(b"welcome to server.\r\n")

    def data_received(self, data):
        buf = self.pending + data if self.pending else data
        out = []
        start = 0
        while True:
            nl = buf.find(b"\n", start)
            if nl < 0:
                break
            out.append(b"ok ...")
            out.append(buf[start:nl + 1])
            start = nl + 1
        self.pending = buf[start:]
        if out:
            self.transport.write(b"".join(out))


async def main():
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Echo, "127.0.0.1", 0, backlog=511)
    port = server.sockets[0].getsockname()[1]
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, sys.argv[1])
    await server.serve_forever()


if __name__ == "__main__":
    uvloop.install()
    asyncio.run(main())

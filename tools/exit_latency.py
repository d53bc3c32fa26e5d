#!/usr/bin/env python3
"""Time from SIGTERM to process exit of the real server binary.

    tools/bazel build //server && python3 tools/exit_latency.py bazel-bin/server/server

For each model, with --shutdown_grace_ms=0, starts the server RUNS times,
optionally with one idle client connected (which then lingers for its bye
line: up to 0.1 s), sends SIGTERM and waits for the exit in a blocking
waitpid (no polling). Prints the median and maximum in milliseconds. A
benchmark, not a test: the figures depend on the machine.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

RUNS = 10


def once(binary, model, with_client):
    with tempfile.TemporaryDirectory() as tmp:
        port_file = os.path.join(tmp, "port")
        server = subprocess.Popen(
            [binary, "--port=0", "--port_file=" + port_file, "--shutdown_grace_ms=0",
             "--stats_interval_ms=0", "--model=" + model],
            stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if time.monotonic() > deadline or server.poll() is not None:
                sys.exit("server did not start")
            time.sleep(0.005)
        client = None
        if with_client:
            client = socket.create_connection(("127.0.0.1", int(open(port_file).read())))
            client.recv(100)  # the welcome
        time.sleep(0.05)
        start = time.monotonic()
        server.send_signal(signal.SIGTERM)
        server.wait()
        took = (time.monotonic() - start) * 1000
        if client:
            client.close()
        if server.returncode != 0:
            sys.exit("server exited with %d" % server.returncode)
        return took


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for model in ("event", "classic"):
        for with_client in (False, True):
            times = sorted(once(sys.argv[1], model, with_client) for _ in range(RUNS))
            print("%-7s %-16s median %6.1f ms  max %6.1f ms" %
                  (model, "one idle client" if with_client else "no client",
                   times[len(times) // 2], times[-1]))


if __name__ == "__main__":
    main()

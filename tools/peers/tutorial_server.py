#!/usr/bin/env python3
"""The socket tutorial's threaded server, as users start from it.

A new thread for every accepted client, no limits: send the welcome, then
loop recv(1024) -> send "ok ..." + data until EOF. Kept faithful (including
echoing whatever one recv returned, not lines) as the baseline in
docs/PERFORMANCE.md.

Usage: tutorial_server.py PORT_FILE
"""
import os
import socket
import sys
import threading


def client_thread(conn):
    conn.send(b"welcome to server.\r\n")
    while True:
        data = conn.recv(1024)
        if not data:
            break
        conn.sendall(b"ok ..." + data)
    conn.close()


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", 0))
    s.listen(511)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % s.getsockname()[1])
    os.rename(tmp, sys.argv[1])
    while True:
        conn, _ = s.accept()
        threading.Thread(target=client_thread, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()

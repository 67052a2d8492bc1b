#!/usr/bin/env python3
"""A sequence-numbered UDP stream and a table-publication hammer for the
table-swap-under-load test (tests/netns/test_xdp_swap.sh).

  xdp_seq.py recv ADDR PORT N SECS    receive until N datagrams or SECS of
                                      silence; print "GOT LOST REORDERED DUP"
  xdp_seq.py send ADDR PORT N RATE    N datagrams of 200 bytes at RATE per s,
                                      each carrying its 64-bit index
  xdp_seq.py publish SOCK HZ SECS     {"cmd": "publish"} to an ipopd
                                      management socket HZ times a second;
                                      print the number of publications
"""
import json
import socket
import struct
import sys
import time


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def recv(addr, port, n, secs):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, int(port)))
    print("listening", flush=True)
    s.settimeout(float(secs))
    n = int(n)
    seen = bytearray(n)
    got = reordered = dup = 0
    last = -1
    try:
        while got < n:
            b = s.recv(2048)
            (i,) = struct.unpack_from("!Q", b)
            if i >= n or len(b) != 200 or b[8:] != bytes([i & 0xFF]) * 192:
                continue
            if seen[i]:
                dup += 1
                continue
            seen[i] = 1
            got += 1
            if i < last:
                reordered += 1
            last = max(last, i)
    except socket.timeout:
        pass
    print(got, n - got, reordered, dup, flush=True)


def send(addr, port, n, rate):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    dst = (addr, int(port))
    n, rate = int(n), float(rate)
    t0 = time.monotonic()
    for i in range(n):
        due = t0 + i / rate
        d = due - time.monotonic()
        if d > 0:
            time.sleep(d)
        s.sendto(struct.pack("!Q", i) + bytes([i & 0xFF]) * 192, dst)


def publish(path, hz, secs):
    hz, secs = float(hz), float(secs)
    t0 = time.monotonic()
    done = 0
    while time.monotonic() - t0 < secs:
        due = t0 + done / hz
        d = due - time.monotonic()
        if d > 0:
            time.sleep(d)
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(path)
        c.sendall(b'{"cmd": "publish"}\n')
        ans = b""
        while not ans.endswith(b"\n"):
            b = c.recv(4096)
            if not b:
                break
            ans += b
        c.close()
        if "table_version" not in json.loads(ans):
            sys.exit("publish refused: %r" % ans)
        done += 1
    print(done, flush=True)


if __name__ == "__main__":
    {"recv": recv, "send": send, "publish": publish}[sys.argv[1]](*sys.argv[2:])

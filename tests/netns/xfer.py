#!/usr/bin/env python3
"""TCP and UDP transfers for the offload tests (tests/netns/test_offload.sh).

  xfer.py tcp-recv ADDR PORT          accept one connection, print "BYTES SHA256"
  xfer.py tcp-send ADDR PORT FILE     send FILE (sendfile), close
  xfer.py udp-recv ADDR PORT N SECS   count datagrams made by udp-send, check
                                      every one; print "GOOD BAD"
  xfer.py udp-send ADDR PORT N SIZE   N datagrams of SIZE bytes, 32 per send
                                      with UDP_SEGMENT (a USO super-frame)
A datagram of udp-send carries its index and a pattern derived from it, so
the receiver can tell a corrupt one from a lost one.
"""
import hashlib
import select
import socket
import struct
import sys
import time

UDP_SEGMENT = 103


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def tcp_recv(addr, port):
    s = socket.socket(family(addr), socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(1)
    print("listening", flush=True)
    s.settimeout(60)
    c, _ = s.accept()
    c.settimeout(60)
    h, n = hashlib.sha256(), 0
    while True:
        b = c.recv(1 << 20)
        if not b:
            break
        h.update(b)
        n += len(b)
    print(n, h.hexdigest(), flush=True)


def tcp_send(addr, port, path):
    s = socket.create_connection((addr, int(port)), timeout=60)
    s.settimeout(None)  # blocking: sendfile below must not see EAGAIN
    with open(path, "rb") as f:
        s.sendfile(f)
    s.shutdown(socket.SHUT_WR)
    s.recv(1)
    s.close()


def payload(i, size):
    head = struct.pack("!I", i)
    pat = bytes((i + k) & 0xFF for k in range(251))
    body = (pat * (size // 251 + 1))[: size - 4]
    return head + body


def udp_recv(addr, port, n, secs):
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, int(port)))
    print("listening", flush=True)
    good = bad = 0
    deadline = time.time() + float(secs)
    while good + bad < int(n) and time.time() < deadline:
        r, _, _ = select.select([s], [], [], 0.2)
        if not r:
            continue
        b = s.recv(65536)
        i = struct.unpack("!I", b[:4])[0]
        if b == payload(i, len(b)):
            good += 1
        else:
            bad += 1
    print(good, bad, flush=True)


def udp_send(addr, port, n, size):
    n, size = int(n), int(size)
    s = socket.socket(family(addr), socket.SOCK_DGRAM)
    s.connect((addr, int(port)))
    s.setsockopt(socket.IPPROTO_UDP, UDP_SEGMENT, size)
    for first in range(0, n, 32):
        buf = b"".join(payload(i, size) for i in range(first, min(n, first + 32)))
        s.send(buf)
        time.sleep(0.002)  # the point is the offload, not a flood


cmds = {"tcp-recv": tcp_recv, "tcp-send": tcp_send, "udp-recv": udp_recv, "udp-send": udp_send}
cmds[sys.argv[1]](*sys.argv[2:])

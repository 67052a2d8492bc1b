#!/usr/bin/python3
"""Traffic for the fault matrix (test_faults.sh) and the soak (bench/soak.sh).

  probe-recv PORT LOG             UDP receiver: one "seq" line per probe
  probe-send HOST PORT RATE LOG   UDP sender: "seq send_time" per probe, until killed
  tcp-recv ADDR PORT OUT          accepts one connection, writes "sha256 bytes" to OUT
  tcp-send HOST PORT FILE SECS    sends FILE paced over about SECS seconds, then
                                  half-closes and waits for the receiver to close
  analyse SENDLOG RECVLOG START END
      prints "lost gap_ms recovered_s": probes sent from START (the fault) on
      that never arrived, the longest interval between the send times of two
      consecutive probes that did arrive (the interruption as the sender saw it;
      queueing does not enter), and how long after END (the fault undone)
      the first probe sent after the last lost one left (0 when nothing was lost
      or traffic flowed again before END).

Times are time.time() (all namespaces share the clock).
"""
import hashlib
import signal
import socket
import struct
import sys
import time


def stop_on_term():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))


def probe_recv(port, log):
    stop_on_term()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", int(port)))
    with open(log, "w", buffering=1) as f:
        while True:
            d = s.recv(2048)
            if len(d) >= 8 and d[:4] == b"PRB1":
                f.write("%d\n" % struct.unpack("!I", d[4:8])[0])


def probe_send(host, port, rate, log):
    stop_on_term()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    period = 1.0 / float(rate)
    t0 = time.time()
    seq = 0
    with open(log, "w", buffering=1) as f:
        while True:
            now = time.time()
            try:
                s.sendto(b"PRB1" + struct.pack("!I", seq) + b"x" * 56, (host, int(port)))
            except OSError:
                pass  # no route while the TAP is gone: the probe is lost
            f.write("%d %.4f\n" % (seq, now))
            seq += 1
            delay = t0 + seq * period - time.time()
            if delay > 0:
                time.sleep(delay)


def tcp_recv(addr, port, out):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, int(port)))
    ls.listen(1)
    c, _ = ls.accept()
    h = hashlib.sha256()
    n = 0
    while True:
        d = c.recv(1 << 16)
        if not d:
            break
        h.update(d)
        n += len(d)
    c.close()
    with open(out + ".tmp", "w") as f:
        f.write("%s %d\n" % (h.hexdigest(), n))
    import os
    os.rename(out + ".tmp", out)


def tcp_send(host, port, path, secs):
    with open(path, "rb") as f:
        data = f.read()
    deadline = time.time() + 30
    while True:
        try:
            s = socket.create_connection((host, int(port)), timeout=5)
            break
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    s.settimeout(None)
    chunk = 1 << 16
    rate = len(data) / max(float(secs), 0.1)
    t0 = time.time()
    off = 0
    while off < len(data):
        s.sendall(data[off:off + chunk])
        off += chunk
        delay = t0 + off / rate - time.time()
        if delay > 0:
            time.sleep(delay)
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()


def analyse(sendlog, recvlog, start, end):
    start, end = float(start), float(end)
    sent = {}
    with open(sendlog) as f:
        for line in f:
            p = line.split()
            if len(p) == 2:
                sent[int(p[0])] = float(p[1])
    got = set()
    with open(recvlog) as f:
        for line in f:
            if line.strip():
                got.add(int(line))
    # the probes of the last half second may still be in flight when the
    # sender stopped: not counted
    stop = max(sent.values()) - 0.5 if sent else 0
    window = [q for q in sent if start <= sent[q] <= stop]
    lost = [q for q in window if q not in got]
    arrived = sorted(q for q in got if q in sent)
    gap = 0.0
    for a, b in zip(arrived, arrived[1:]):
        gap = max(gap, sent[b] - sent[a])
    rec = 0.0
    if lost:
        after = [q for q in arrived if q > max(lost)]
        rec = max(0.0, sent[after[0]] - end) if after else float("inf")
    print("%d %d %.1f" % (len(lost), round(gap * 1000), rec))


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"probe-recv": probe_recv, "probe-send": probe_send, "tcp-recv": tcp_recv,
     "tcp-send": tcp_send, "analyse": analyse}[cmd](*args)


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Seed corpora and dictionaries of the fuzz targets (tests/fuzz/).

    /usr/bin/python3 tests/fuzz/make_corpus.py      # from the top of the tree

Writes tests/fuzz/corpus/<target>/<sha1 of the input> (valid messages of
every kind each target parses, from the unit tests' vectors and the example
configs) and tests/fuzz/<target>.dict for the text formats (JSON config,
signalling payloads, management requests). The output is deterministic:
rerunning it on an unchanged tree changes nothing. The corpora are small on
purpose: they give libFuzzer a valid message of each kind to mutate, so a
30 s run starts past the parsers' first checks instead of spending its time
rediscovering the grammar.
"""
import base64
import binascii
import glob
import hashlib
import hmac
import ipaddress
import os
import re
import shutil
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(TOP, "tests", "fuzz")


def write_corpus(target, inputs):
    d = os.path.join(OUT, "corpus", target)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for data in inputs:
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
            f.write(data)


def write_dict(target, words):
    words = sorted(set(words))
    with open(os.path.join(OUT, target + ".dict"), "w") as f:
        f.write("# libFuzzer dictionary of %s, written by make_corpus.py\n" % target)
        for w in words:
            esc = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c)
                          for c in w)
            f.write('"%s"\n' % esc)


def source_strings(paths):
    """The string literals of these C files that look like JSON keys or
    enum values (lowercase words): what the parsers compare against."""
    out = set()
    for p in paths:
        with open(os.path.join(TOP, p)) as f:
            for s in re.findall(r'"([A-Za-z_][A-Za-z0-9_]{1,40})"', f.read()):
                out.add(s)
    return out


JSON_TOKENS = ["{", "}", "[", "]", ":", ",", '"', "true", "false", "null", "0", "-1",
               "1e3", "0.5", "\\u0000", "\\\"", "4294967296", "9007199254740993"]

# ---- signalling payloads (control/signalling/sigmsg.c) --------------------

ULA = bytes.fromhex("fd500dbc41f24a3c")


def node_id(ip4):
    return hashlib.sha1(ip4.encode()).digest()


def presence(ip4, mac, key, port, routes=None, version=1):
    nid = node_id(ip4)
    ip6 = ipaddress.IPv6Address(ULA + nid[:8])
    p = ('{"node_id":"%s","version":%d,"ip4":"%s","ip6":"%s","mac":"%s",'
         '"public_key":"%s","port":%d' %
         (nid.hex(), version, ip4, ip6, mac, base64.b64encode(key).decode(), port))
    if routes is not None:
        p += ',"routes":[%s]' % ",".join('"%s"' % r for r in routes)
    return p + "}"


def message(mtype, frm, to, seq, kind=None, cands=None, accept=None, reason=None):
    m = '{"type":"%s","from_id":"%s","to_id":"%s","seq":%d' % (
        mtype, node_id(frm).hex(), node_id(to).hex(), seq)
    if kind:
        m += ',"link_kind":"%s"' % kind
    if cands is not None:
        m += ',"candidates":[%s]' % ",".join(
            '{"kind":"%s","addr":"%s","prio":%d}' % c for c in cands)
    if accept is not None:
        m += ',"accept":%s' % ("true" if accept else "false")
    if reason is not None:
        m += ',"reason":"%s"' % reason
    return m + "}"


def signal_corpus():
    key = bytes(range(1, 33))
    c = [
        presence("10.0.3.100", "02:00:00:00:00:0a", key, 5805),
        presence("10.254.0.1", "02:00:00:00:00:01", bytes(32 * [7]), 5800,
                 routes=["10.0.11.0/24", "fd00:11::/64"]),
        presence("10.254.0.2", "02:00:00:00:00:02", bytes(32 * [9]), 5800, routes=[],
                 version=2),
    ]
    cands = [("host", "198.18.0.1:5805", 100), ("srflx", "[2001:db8::1]:40001", 90),
             ("relay", "198.18.0.251:49152", 10), ("static", "192.0.2.7:5800", 50)]
    for kind in ("successor", "chord", "on_demand", "static"):
        c.append(message("con_req", "10.0.3.100", "10.0.3.101", 42, kind, cands))
    c.append(message("con_req", "10.0.3.100", "10.0.3.101", 0, "successor", []))
    c.append(message("con_resp", "10.0.3.101", "10.0.3.100", 43, "successor", cands[:2],
                     accept=True))
    c.append(message("con_resp", "10.0.3.101", "10.0.3.100", 44, "chord", [], accept=False,
                     reason="too many inbound links"))
    # the structured overlay's refusals and close notices (disc_topo.c)
    c.append(message("con_resp", "10.0.3.101", "10.0.3.100", 45, "chord", [], accept=False,
                     reason="num_inbound"))
    c.append(message("con_resp", "10.0.3.101", "10.0.3.100", 46, "on_demand", [],
                     accept=False, reason="closed"))
    c.append(message("ping", "10.0.3.100", "10.0.3.101", 9007199254740991))
    c.append(message("pong", "10.0.3.101", "10.0.3.100", 7))
    words = source_strings(["control/signalling/sigmsg.c"]) | set(JSON_TOKENS)
    words |= {'"type":', '"candidates":', '"addr":"', "10.0.3.100", "[::1]:1", "/24",
              "/64", "02:00:00:00:00:01", "fd50:dbc:41f2:4a3c:", "=="}
    return c, words

# ---- management requests (control/mgmt/mgmt.c) ---------------------------


def mgmt_corpus():
    cmds = ["status", "peers", "stats", "links", "key", "xmpp", "sas"]
    c = ['{"cmd":"%s"}' % x for x in cmds]
    c += ['{"cmd":"sas","export":true}', '  {"cmd" : "stats"}  ',
          '{"cmd":"status"}\n{"cmd":"peers"}\n', '{"cmd":"nope"}', '[]']
    words = source_strings(["control/mgmt/mgmt.c"]) | set(JSON_TOKENS) | set(cmds)
    words |= {'{"cmd":"', '"export":true', "\n"}
    return c, words

# ---- configs (control/config/*.c) -----------------------------------------


def config_corpus():
    c = []
    for p in sorted(glob.glob(os.path.join(TOP, "conf", "*.json")) +
                    glob.glob(os.path.join(TOP, "tests", "data", "*.json"))):
        with open(p, "rb") as f:
            c.append(f.read())
    # the shapes the netns harness writes (lib.sh write_config keyed and
    # manual, write_disc_config with STUN and TURN)
    head = ('{"CFx": {"vpn_type": "GroupVPN", "ip4_mask": 24%s},'
            ' "Logger": {"controller_logging": "INFO"},'
            ' "TincanSender": {"switchmode": 0, "svpn_port": 5800%s},'
            ' "BaseTopologyManager": {"ip4": "10.254.0.1"},'
            ' "ipopd": {"tap": "ipops1", "workers": 1, "mgmt_socket": "/tmp/s1.sock",'
            ' "state_dir": "/tmp/state-s1", ')
    key = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
    c.append(head % ("", "") + '"keying": "noise", "psk": "%s", "rekey_interval": 30,'
             ' "rekey_packets": 100000, "keepalive_interval": 2, "link_timeout": 6,'
             ' "allowed_keys": ["%s"], "peers": [{"name": "s2", "endpoint":'
             ' "198.18.0.2:5800", "ip4": "10.254.0.2", "routes": ["10.0.12.0/24"],'
             ' "public_key": "%s"}]}}' % (key, key, key))
    c.append(head % ("", "") + '"peers": [{"name": "s2", "endpoint": "[2001:db8::2]:5800",'
             ' "ip4": "10.254.0.2", "sa_in": {"spi": "0x80000102", "key": "%s"},'
             ' "sa_out": {"spi": "0x80000201", "key": "%s"}}]}}' % ("ab" * 36, "cd" * 36))
    c.append(head % (', "xmpp_username": "gw-s1@localhost", "xmpp_password": "pw",'
                     ' "xmpp_host": "198.18.0.250", "xmpp_port": 5222,'
                     ' "network_ignore_list": ["lxcbr0"]',
                     ', "stun": ["198.18.0.251:3478"], "turn": [{"server":'
                     ' "198.18.0.251:3478", "user": "turn", "pass": "pw"}]') +
             '"xmpp_ca_file": "/tmp/ca.crt", "muc_room": "ov@conference.localhost",'
             ' "advertise_routes": ["10.0.11.0/24"], "peers": []}}')
    srcs = sorted(glob.glob(os.path.join(TOP, "control", "config", "*.c")))
    words = source_strings([os.path.relpath(p, TOP) for p in srcs]) | set(JSON_TOKENS)
    words |= {"CFx", "TincanSender", "BaseTopologyManager", "ipopd", "10.254.0.1",
              "198.18.0.2:5800", "[::1]:5800", "/24"}
    return c, words

# ---- STUN / TURN (control/nat/stun.c, turn.c) -----------------------------

MAGIC = 0x2112A442


def xor_addr(ip, port, txid):
    a = ipaddress.ip_address(ip)
    xport = port ^ (MAGIC >> 16)
    if a.version == 4:
        x = int(a) ^ MAGIC
        return struct.pack("!BBH", 0, 1, xport) + struct.pack("!I", x)
    mask = struct.pack("!I", MAGIC) + txid
    return struct.pack("!BBH", 0, 2, xport) + bytes(p ^ m for p, m in zip(a.packed, mask))


def attr(t, v):
    pad = (-len(v)) % 4
    return struct.pack("!HH", t, len(v)) + v + b"\0" * pad


def stun(method, cls, txid, attrs, key=None, fingerprint=True):
    mtype = (method & 0xF) | ((method & 0x70) << 1) | ((method & 0xF80) << 2)
    mtype |= ((cls & 1) << 4) | ((cls & 2) << 7)
    body = b"".join(attrs)

    def hdr(extra):
        return struct.pack("!HHI", mtype, len(body) + extra, MAGIC) + txid
    if key is not None:
        mac = hmac.new(key, hdr(24) + body, hashlib.sha1).digest()
        body += attr(0x0008, mac)
    if fingerprint:
        crc = binascii.crc32(hdr(8) + body) ^ 0x5354554E
        body += attr(0x8028, struct.pack("!I", crc))
    return hdr(0) + body


def stun_corpus():
    tx = bytes(range(12))
    key = b"key"  # what fuzz_stun checks integrity with
    ltk = hashlib.md5(b"user:realm:pass").digest()
    c = [
        stun(1, 0, tx, [], fingerprint=False),  # Binding request (RFC 5769 shape)
        stun(1, 0, tx, [attr(0x8022, b"ipopd")]),
        stun(1, 2, tx, [attr(0x0020, xor_addr("198.18.0.1", 5800, tx))]),
        stun(1, 2, tx, [attr(0x0020, xor_addr("2001:db8::1", 40001, tx))], key=key),
        stun(1, 2, tx, [attr(0x0001, struct.pack("!BBH4s", 0, 1, 5800,
                                                 bytes([198, 18, 0, 1])))]),
        stun(1, 3, tx, [attr(0x0009, b"\0\0\x04\x00Bad Request")]),
        # Allocate: request, 401 challenge, 438 stale nonce, success
        stun(3, 0, tx, [attr(0x0019, b"\x11\0\0\0"), attr(0x0006, b"user"),
                        attr(0x0014, b"realm"), attr(0x0015, b"nonce")], key=ltk),
        stun(3, 3, tx, [attr(0x0009, b"\0\0\x04\x01Unauthorized"), attr(0x0014, b"realm"),
                        attr(0x0015, b"nonce")]),
        stun(3, 3, tx, [attr(0x0009, b"\0\0\x04\x26Stale Nonce"), attr(0x0014, b"realm"),
                        attr(0x0015, b"nonce2")]),
        stun(3, 2, tx, [attr(0x0016, xor_addr("198.18.0.251", 49152, tx)),
                        attr(0x0020, xor_addr("198.18.0.1", 5800, tx)),
                        attr(0x000D, struct.pack("!I", 600))], key=ltk),
        stun(3, 2, tx, [attr(0x0016, xor_addr("198.18.0.251", 49152, tx)),
                        attr(0x000D, struct.pack("!I", 600))], key=key),
        # Refresh, CreatePermission, ChannelBind (requests and successes)
        stun(4, 0, tx, [attr(0x000D, struct.pack("!I", 0))], key=ltk),
        stun(4, 2, tx, [attr(0x000D, struct.pack("!I", 600))], key=ltk),
        stun(8, 0, tx, [attr(0x0012, xor_addr("198.18.0.2", 5800, tx))], key=ltk),
        stun(8, 2, tx, [], key=ltk),
        stun(9, 0, tx, [attr(0x000C, b"\x40\x00\0\0"),
                        attr(0x0012, xor_addr("198.18.0.2", 5800, tx))], key=ltk),
        stun(9, 2, tx, [], key=ltk),
        # Send and Data indications
        stun(6, 1, tx, [attr(0x0012, xor_addr("198.18.0.2", 5800, tx)),
                        attr(0x0013, b"\0\0\0\0hello")], fingerprint=False),
        stun(7, 1, tx, [attr(0x0012, xor_addr("198.18.0.2", 5800, tx)),
                        attr(0x0013, b"\x80\0\0\1" + bytes(40))], fingerprint=False),
        # ChannelData
        b"\x40\x00\x00\x08" + b"\x80\0\0\1" + bytes(4),
        b"\x7f\xfe\x00\x05hello\0\0\0",
    ]
    return c

# ---- Noise and the handshake framing (control/link/noise.c, hsmsg.c) -------


def noise_corpus():
    # fuzz_noise XORs the input over a genuine message 1 (96 bytes) and
    # message 2 (48 bytes): all-zero inputs of those lengths are the genuine
    # messages; the first byte also splits the input into two payloads for
    # the full handshake.
    c = [bytes(96), bytes(48), bytes(1), b"\x05hello, responder", b"\x00" + bytes(64),
         b"\x10" + b"p" * 15 + b"payload two", bytes(96) + b"extra"]
    return c


def handshake_corpus():
    # fuzz_handshake XORs over a genuine initiation (164 bytes), response
    # (104) and cookie reply (48): zero inputs of those lengths authenticate.
    init = bytes(164)
    c = [init, bytes(104), bytes(48), bytes(16),
         b"\0\0\0\0\x01\x01" + bytes(158), b"\0\0\0\0\x02\x01" + bytes(98),
         b"\0\0\0\0\x03\x01" + bytes(42)]
    return c

# ---- data plane (dataplane/pipeline.c through fuzz_net_rx) ----------------


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ip4(src, dst, proto, payload, ttl=64):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, ttl, proto, 0,
                    ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ip6(src, dst, nh, payload):
    return (struct.pack("!IHBB", 0x60000000, len(payload), nh, 64) +
            ipaddress.IPv6Address(src).packed + ipaddress.IPv6Address(dst).packed + payload)


def icmp_echo(data=b"ping"):
    b = struct.pack("!BBHHH", 8, 0, 0, 1, 1) + data
    return b[:2] + struct.pack("!H", csum(b)) + b[4:]


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def tcp_syn(sport, dport):
    return struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 0x50, 0x02, 65535, 0, 0)


def eth(dst, src, etype, payload):
    return bytes(dst) + bytes(src) + struct.pack("!H", etype) + payload


def arp_req(smac, sip, tip):
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + bytes(smac) + \
        ipaddress.IPv4Address(sip).packed + bytes(6) + ipaddress.IPv4Address(tip).packed


def net_rx_corpus():
    # fuzz_net_rx's tables: we are 10.9.0.1 / fd50::1 / 02:00:00:00:00:01, link
    # 0 carries 10.9.0.2, 10.9.1.0/24, fd50::2 and MAC 02:00:00:00:02:01.
    me, peer, far = "10.9.0.1", "10.9.0.2", "10.9.1.7"
    me6, peer6 = "fd50::1", "fd50::2"
    host_mac, router_mac = [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 0xfe]
    mac_peer, mac_down = [2, 0, 0, 0, 2, 1], [2, 0, 0, 0, 3, 1]
    bcast = [0xff] * 6
    v4_in = ip4(peer, me, 1, icmp_echo())
    v4_out = ip4(me, peer, 1, icmp_echo())
    v6_in = ip6(peer6, me6, 58, b"\x80\0\0\0\0\1\0\1ping")
    v6_out = ip6(me6, peer6, 17, udp(1000, 2000, b"probe"))
    frames = [
        eth(host_mac, mac_peer, 0x0800, v4_in),
        eth(mac_peer, host_mac, 0x0800, v4_out),
        eth(bcast, mac_peer, 0x0806, arp_req(mac_peer, peer, me)),
        eth(bcast, host_mac, 0x0806, arp_req(host_mac, me, peer)),
        eth(mac_down, host_mac, 0x86DD, v6_out),
        eth([0x33, 0x33, 0, 0, 0, 1], mac_peer, 0x86DD, v6_in),
    ]
    c = []
    # sealed: next header + inner packet (4 IPv4, 41 IPv6, 143 Ethernet)
    c += [bytes([4]) + v4_in, bytes([4]) + ip4(far, me, 6, tcp_syn(1, 2)),
          bytes([4]) + ip4("10.9.5.5", me, 17, udp(1, 2, b"spoofed source")),
          bytes([41]) + v6_in, bytes([143]) + frames[0], bytes([143]) + frames[2],
          bytes([143]) + frames[5], bytes([59]), bytes([4]) + ip4(peer, "10.9.1.9", 1,
                                                                    icmp_echo(), ttl=1)]
    # next header 253 (switch mode overlay header): we are ring id 10.., links
    # 0/1/2 are 50.., 90.. (down, staged), d0..; version, hops, flags, 0,
    # origin, [arc end], frame
    def ovl(hops, flags, origin, end, frame, ver=1, rsv=0):
        return bytes([253, ver, hops, flags, rsv]) + bytes([origin]) + bytes(19) + \
            (bytes([end]) + bytes(19) if end is not None else b"") + frame
    c += [ovl(32, 0, 0x50, None, frames[4]),          # unicast for the staged link
          ovl(32, 0, 0x50, None, frames[0]),          # unicast, ours
          ovl(32, 1, 0x50, 0xf0, frames[2]),          # flood: relay to d0..
          ovl(1, 1, 0x50, 0xf0, frames[2]),           # flood, no hops left
          ovl(2, 0, 0x10, None, frames[0]),           # our own id as origin
          ovl(32, 0, 0x50, None, frames[0], ver=2),   # unknown version
          ovl(32, 1, 0x50, None, b"")]                # flood without arc end
    # L3: forwarded (to the down link, over the relayed one; TTL 1)
    c += [bytes([4]) + ip4(peer, "10.9.2.9", 1, icmp_echo()),
          bytes([41]) + ip6(peer6, "fd50:1::9", 17, udp(1, 2, b"fwd"))]
    # host side (L3: IP packets / switch: frames) and raw underlay datagrams
    c += [v4_out, ip4(me, far, 17, udp(5, 6, b"x" * 100)), v6_out] + frames
    c += [struct.pack("!II", 0x80000001, 1) + bytes(40),  # ESP, our SPI, bad ICV
          struct.pack("!II", 0x80000009, 1) + bytes(40),  # unknown SPI
          bytes(4) + b"\x01\x01" + bytes(158),  # non-ESP marker: handshake
          stun(1, 0, bytes(12), []),  # STUN: punted
          b"\x40\x00\x00\x30" + struct.pack("!II", 0x80000001, 1) + bytes(40)]
    return c


def dpdk_frame_corpus():
    # fuzz_dpdk_frame: we are 198.18.0.2/24 (gateway .1), MAC 02:00:00:00:00:42,
    # UDP port 5800.
    me, peer = "198.18.0.2", "198.18.0.1"
    our, other = [2, 0, 0, 0, 0, 0x42], [2, 0, 0, 0, 0, 7]
    bcast = [0xff] * 6
    esp = struct.pack("!II", 0x80000001, 1) + bytes(48)
    ip_opts = ip4(peer, me, 17, udp(5800, 5800, esp))
    ip_opts = bytes([0x47]) + ip_opts[1:2] + struct.pack("!H", 28 + 8 + len(esp)) + \
        ip_opts[4:20] + bytes(8) + ip_opts[20:]
    return [eth(our, other, 0x0800, ip4(peer, me, 17, udp(5800, 5800, esp))),
            eth(our, other, 0x0800, ip4(peer, me, 17, udp(5800, 5800, bytes(4) + bytes(40)))),
            eth(our, other, 0x0800, ip_opts),
            eth(our, other, 0x0800, ip4(peer, me, 1, icmp_echo(b"pingping"))),
            eth(bcast, other, 0x0806, arp_req(other, peer, me)),
            eth(our, other, 0x0806, arp_req(other, peer, me)[:7] + b"\x02" + arp_req(other, peer, me)[8:]),
            eth(our, other, 0x0800, ip4(peer, "198.18.0.3", 17, udp(5800, 5800, esp))),
            eth(our, other, 0x86dd, ip6("fd00::1", "fd00::2", 17, udp(5800, 5800, esp)))]


def frame_corpus():
    # fuzz_frame: what the XDP program steers to the af_xdp backend's socket:
    # ESP, a handshake and STUN in UDP over IPv4 (with and without options,
    # padded short) and IPv6.
    a, b = [2, 0, 0, 0, 0, 1], [2, 0, 0, 0, 0, 2]
    esp = struct.pack("!II", 0x80000001, 1) + bytes(8) + bytes(40)
    hs = bytes(4) + b"\x01\x01" + bytes(158)
    st = stun(1, 0, bytes(12), [])
    c = []
    for d in (esp, hs, st, b""):
        c.append(eth(b, a, 0x0800, ip4("198.18.0.1", "198.18.0.2", 17, udp(4500, 4500, d))))
        c.append(eth(b, a, 0x86DD, ip6("2001:db8::1", "2001:db8::2", 17, udp(4500, 4500, d))))
    opt = ip4("198.18.0.1", "198.18.0.2", 17, udp(4500, 4500, esp))
    opt = bytes([0x46, 0]) + struct.pack("!H", len(opt) + 4) + opt[4:20] + bytes(4) + opt[20:]
    c.append(eth(b, a, 0x0800, opt))
    c.append(eth(b, a, 0x0800, ip4("198.18.0.1", "198.18.0.2", 17, udp(4500, 4500, b"x"))) + bytes(17))
    return c


def main():
    sig, sig_words = signal_corpus()
    write_corpus("fuzz_signal", sig)
    write_dict("fuzz_signal", sig_words)
    mg, mg_words = mgmt_corpus()
    write_corpus("fuzz_mgmt", mg)
    write_dict("fuzz_mgmt", mg_words)
    cf, cf_words = config_corpus()
    write_corpus("fuzz_config", cf)
    write_dict("fuzz_config", cf_words)
    write_corpus("fuzz_stun", stun_corpus())
    write_corpus("fuzz_noise", noise_corpus())
    write_corpus("fuzz_handshake", handshake_corpus())
    write_corpus("fuzz_net_rx", net_rx_corpus())
    write_corpus("fuzz_dpdk_frame", dpdk_frame_corpus())
    write_corpus("fuzz_frame", frame_corpus())
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Independent Noise_IKpsk2_25519_AESGCM_SHA256 (Noise spec rev 34) in Python
with the `cryptography` module, to cross-check control/noise.c.

Replays the cacophony vector in cacophony-IKpsk2_25519_AESGCM_SHA256.json
(both sides, all six messages, handshake hash) and prints the values that
tests/unit/test_noise.c embeds beyond the published vector: the split keys
and the ESP key material (noise_esp_keymat: HKDF-SHA256, salt = handshake
hash, IKM = split key, info = "ipopd esp keymat v1", L = 36).

Run: /usr/bin/python3 tests/data/noise-vectors/noise_ikpsk2.py
"""
import hashlib
import hmac
import json
import os
import sys

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

NAME = b"Noise_IKpsk2_25519_AESGCM_SHA256"
ESP_INFO = b"ipopd esp keymat v1"


def pub(priv):
    return X25519PrivateKey.from_private_bytes(priv).public_key().public_bytes(
        Encoding.Raw, PublicFormat.Raw)


def dh(priv, pub_):
    return X25519PrivateKey.from_private_bytes(priv).exchange(
        X25519PublicKey.from_public_bytes(pub_))


def nonce(n):
    return b"\0" * 4 + n.to_bytes(8, "big")


def noise_hkdf(ck, ikm, num):
    tk = hmac.new(ck, ikm, hashlib.sha256).digest()
    out, prev = [], b""
    for i in range(1, num + 1):
        prev = hmac.new(tk, prev + bytes([i]), hashlib.sha256).digest()
        out.append(prev)
    return out


class Sym:
    def __init__(self, prologue):
        self.h = NAME if len(NAME) == 32 else hashlib.sha256(NAME).digest()
        self.ck = self.h
        self.history = []
        self.k = None
        self.n = 0
        self.mix_hash(prologue)

    def mix_hash(self, data):
        self.h = hashlib.sha256(self.h + data).digest()
        self.history.append(self.h)

    def mix_key(self, ikm):
        self.ck, self.k = noise_hkdf(self.ck, ikm, 2)
        self.n = 0

    def mix_key_and_hash(self, ikm):
        self.ck, th, self.k = noise_hkdf(self.ck, ikm, 3)
        self.mix_hash(th)
        self.n = 0

    def enc(self, pt):
        ct = AESGCM(self.k).encrypt(nonce(self.n), pt, self.h)
        self.n += 1
        self.mix_hash(ct)
        return ct

    def dec(self, ct):
        pt = AESGCM(self.k).decrypt(nonce(self.n), ct, self.h)
        self.n += 1
        self.mix_hash(ct)
        return pt

    def split(self):
        return noise_hkdf(self.ck, b"", 2)


def run(v):
    x = bytes.fromhex
    i_s, i_e, r_s, r_e = (x(v[k]) for k in
                          ("init_static", "init_ephemeral", "resp_static", "resp_ephemeral"))
    psk = x(v["init_psks"][0])
    assert x(v["init_remote_static"]) == pub(r_s)
    msgs = [(x(m["payload"]), x(m["ciphertext"])) for m in v["messages"]]

    ini, rsp = Sym(x(v["init_prologue"])), Sym(x(v["resp_prologue"]))
    ini.mix_hash(pub(r_s))
    rsp.mix_hash(pub(r_s))

    # -> e, es, s, ss
    e = pub(i_e)
    ini.mix_hash(e); ini.mix_key(e)
    ini.mix_key(dh(i_e, pub(r_s)))
    m1 = e + ini.enc(pub(i_s))
    ini.mix_key(dh(i_s, pub(r_s)))
    m1 += ini.enc(msgs[0][0])
    assert m1 == msgs[0][1], "msg1"
    re = m1[:32]
    rsp.mix_hash(re); rsp.mix_key(re)
    rsp.mix_key(dh(r_s, re))
    rs = rsp.dec(m1[32:80])
    rsp.mix_key(dh(r_s, rs))
    assert rsp.dec(m1[80:]) == msgs[0][0] and rs == pub(i_s)

    # <- e, ee, se, psk
    e = pub(r_e)
    rsp.mix_hash(e); rsp.mix_key(e)
    rsp.mix_key(dh(r_e, re))
    rsp.mix_key(dh(r_e, rs))
    rsp.mix_key_and_hash(psk)
    m2 = e + rsp.enc(msgs[1][0])
    assert m2 == msgs[1][1], "msg2"
    ini.mix_hash(m2[:32]); ini.mix_key(m2[:32])
    ini.mix_key(dh(i_e, m2[:32]))
    ini.mix_key(dh(i_s, m2[:32]))
    ini.mix_key_and_hash(psk)
    assert ini.dec(m2[32:]) == msgs[1][0]
    assert ini.h == rsp.h
    # cacophony's "handshake_hash" is not the final h: in every entry checked
    # (NN, NXpsk2, IKpsk2 with AESGCM_SHA256) it is the h three MixHash calls
    # before the end -- here h after msg2's "e" token, SHA-256(h_msg1 || re).
    assert ini.history[-3] == rsp.history[-3] == x(v["handshake_hash"]), "handshake hash quirk"

    k1, k2 = ini.split()
    assert (k1, k2) == tuple(rsp.split())
    n = [0, 0]
    for i, (pt, ct) in enumerate(msgs[2:]):
        d = i % 2  # transport messages alternate, initiator first
        assert AESGCM(k1 if d == 0 else k2).encrypt(nonce(n[d]), pt, b"") == ct, f"msg{i + 3}"
        n[d] += 1
    return k1, k2, ini.h


def esp_keymat(key, h):
    return HKDF(algorithm=hashes.SHA256(), length=36, salt=h, info=ESP_INFO).derive(key)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "cacophony-IKpsk2_25519_AESGCM_SHA256.json")) as f:
        v = json.load(f)
    k1, k2, h = run(v)
    print("vector OK: all 6 messages match; published handshake_hash = h three MixHash before the end")
    print("final handshake hash      ", h.hex())
    print("split k1 (initiator send)", k1.hex())
    print("split k2 (responder send)", k2.hex())
    print("esp keymat from k1      ", esp_keymat(k1, h).hex())
    print("esp keymat from k2      ", esp_keymat(k2, h).hex())
    return 0


if __name__ == "__main__":
    sys.exit(main())

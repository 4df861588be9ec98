#!/usr/bin/env python3
"""Test helper for ha-beat: capture, re-inject and forge heartbeats.

  hbtool.py capture IFACE PORT SRC DST OUTFILE   first UDP frame SRC -> DST:PORT seen on IFACE (5 s at most)
  hbtool.py inject IFACE FILE            send that Ethernet frame again on IFACE
  hbtool.py forge DST PORT COUNT         COUNT heartbeat-shaped datagrams with a wrong MAC
Exit 0 on success, 1 when nothing was captured in time.
"""
import os
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def capture(iface, port, src, dst, out):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((iface, 0))
    s.settimeout(0.2)
    end = time.time() + 5
    while time.time() < end:
        try:
            frame = s.recv(2048)
        except socket.timeout:
            continue
        if len(frame) < 42 or frame[12:14] != b"\x08\x00" or frame[23] != 17:
            continue
        ihl = (frame[14] & 0x0F) * 4
        dport = struct.unpack("!H", frame[14 + ihl + 2:14 + ihl + 4])[0]
        if (dport == port and socket.inet_ntoa(frame[26:30]) == src
                and socket.inet_ntoa(frame[30:34]) == dst):
            with open(out, "wb") as f:
                f.write(frame)
            return 0
    return 1


def inject(iface, path):
    with open(path, "rb") as f:
        frame = bytearray(f.read())
    # A frame caught on a veth may carry a partial (offloaded) UDP checksum;
    # zero means "none" for UDP over IPv4, so the copy is accepted as sent.
    ihl = (frame[14] & 0x0F) * 4
    frame[14 + ihl + 6:14 + ihl + 8] = b"\0\0"
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    s.send(frame)
    return 0


def forge(dst, port, count):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(count):
        pkt = bytearray(156)
        pkt[0:4] = b"NSHB"
        pkt[4] = 1
        pkt[5] = 1
        pkt[6] = 1  # claims master
        pkt[7] = 255  # with the highest priority
        pkt[8:11] = b"web"
        pkt[40:41] = b"a"
        pkt[72:80] = struct.pack("!Q", time.time_ns())
        pkt[80:88] = struct.pack("!Q", i + 1)
        pkt[88:90] = struct.pack("!H", 10)
        pkt[90] = 3
        pkt[91] = 3
        pkt[124:156] = os.urandom(32)
        s.sendto(bytes(pkt), (dst, port))
    return 0


def main(argv):
    if len(argv) == 6 and argv[0] == "capture":
        return capture(argv[1], int(argv[2]), argv[3], argv[4], argv[5])
    if len(argv) == 3 and argv[0] == "inject":
        return inject(argv[1], argv[2])
    if len(argv) == 4 and argv[0] == "forge":
        return forge(argv[1], int(argv[2]), int(argv[3]))
    sys.stderr.write(__doc__)
    return 100


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

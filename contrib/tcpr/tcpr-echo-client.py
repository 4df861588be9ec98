#!/usr/bin/env python3
# tcpr-echo-client HOST PORT DIR [N1 K N2 [ROUNDS]]: an ordinary TCP client
# (no tcpr code) that checks an echo service byte for byte across failovers.
# Phase 1: N1 lines, each echoed before the next; then it creates DIR/ready
# and waits for DIR/cut. Phase 2 (the outage): K lines at once. Phase 3:
# N2 more lines one by one. With ROUNDS > 1 it does it again, with
# DIR/ready2 and DIR/cut2, and so on. It writes DIR/sent and DIR/got and prints
# "ok sent=B got=B" when every byte came back once and in order; any
# reset, timeout or mismatch prints "fail ..." and exits 1.
import os, socket, sys, time

host, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
n1, k, n2 = (int(x) for x in (sys.argv[4:7] or (20, 5, 20)))
rounds = int(sys.argv[7]) if len(sys.argv) > 7 else 1
s = socket.create_connection((host, port), timeout=60)
sent, got = bytearray(), bytearray()

def line(i):
    return b'line %06d %s\n' % (i, b'x' * (i * 7 % 61))

def wait_echo():
    while len(got) < len(sent):
        b = s.recv(65536)
        if not b:
            raise EOFError('connection closed by the server')
        got.extend(b)

def wait_file(name, secs):
    for _ in range(int(secs * 100)):
        if os.path.exists(os.path.join(d, name)):
            return
        time.sleep(0.01)
    raise TimeoutError('no ' + name)

try:
    i = 0
    for r in range(1, rounds + 1):
        sfx = '' if r == 1 else str(r)
        for _ in range(n1):
            b = line(i); i += 1
            s.sendall(b); sent.extend(b)
            wait_echo()
        open(os.path.join(d, 'ready' + sfx), 'w').close()
        wait_file('cut' + sfx, 120)
        for _ in range(k):
            b = line(i); i += 1
            s.sendall(b); sent.extend(b)
        wait_echo()
        for _ in range(n2):
            b = line(i); i += 1
            s.sendall(b); sent.extend(b)
            wait_echo()
        if bytes(got) != bytes(sent):
            break
    ok = bytes(got) == bytes(sent)
except Exception as e:
    ok = False
    print('fail %s: %s' % (type(e).__name__, e))
open(os.path.join(d, 'sent'), 'wb').write(sent)
open(os.path.join(d, 'got'), 'wb').write(got)
if ok:
    print('ok sent=%d got=%d' % (len(sent), len(got)))
    s.close()
    sys.exit(0)
print('fail sent=%d got=%d' % (len(sent), len(got)))
sys.exit(1)

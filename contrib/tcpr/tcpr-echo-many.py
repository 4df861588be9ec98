#!/usr/bin/env python3
# tcpr-echo-many HOST PORT DIR N: N ordinary TCP connections to an echo
# service from one process, checked byte for byte across a failover.
# Each connection: 3 lines echoed; then DIR/ready; wait for DIR/cut; 2
# lines sent at once (the outage); all echoed; 3 more lines echoed.
# Prints "ok conns=N bytes=B", or "fail ..." and exits 1 (a reset, a
# closed or silent connection, a wrong byte).
import os, selectors, socket, sys, time

host, port, d, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
sel = selectors.DefaultSelector()
conns = []
for i in range(n):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.connect((host, port))
    s.setblocking(False)
    c = {'s': s, 'sent': bytearray(), 'got': bytearray(), 'i': i, 'k': 0}
    sel.register(s, selectors.EVENT_READ, c)
    conns.append(c)

def line(c):
    c['k'] += 1
    return b'conn %05d line %03d %s\n' % (c['i'], c['k'], b'y' * ((c['i'] + c['k']) % 50))

def send(c, lines):
    b = b''.join(line(c) for _ in range(lines))
    c['s'].setblocking(True)
    c['s'].sendall(b)
    c['s'].setblocking(False)
    c['sent'].extend(b)

def drain(timeout):
    end = time.monotonic() + timeout
    while any(len(c['got']) < len(c['sent']) for c in conns):
        left = end - time.monotonic()
        if left <= 0:
            short = sum(1 for c in conns if len(c['got']) < len(c['sent']))
            raise TimeoutError('%d connections still waiting for their echo' % short)
        for key, _ in sel.select(min(left, 1.0)):
            c = key.data
            b = c['s'].recv(65536)
            if not b:
                raise EOFError('connection %d closed by the server' % c['i'])
            c['got'].extend(b)

def wait_file(name, secs):
    for _ in range(int(secs * 100)):
        if os.path.exists(os.path.join(d, name)):
            return
        time.sleep(0.01)
    raise TimeoutError('no ' + name)

try:
    for _ in range(3):
        for c in conns:
            send(c, 1)
        drain(60)
    open(os.path.join(d, 'ready'), 'w').close()
    wait_file('cut', 300)
    for c in conns:
        send(c, 2)
    drain(120)
    for _ in range(3):
        for c in conns:
            send(c, 1)
        drain(60)
    bad = [c['i'] for c in conns if bytes(c['got']) != bytes(c['sent'])]
    if bad:
        raise ValueError('%d connections got other bytes than they sent' % len(bad))
except Exception as e:
    print('fail %s: %s' % (type(e).__name__, e))
    sys.exit(1)
print('ok conns=%d bytes=%d' % (n, sum(len(c['sent']) for c in conns)))

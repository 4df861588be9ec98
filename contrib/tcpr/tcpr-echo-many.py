#!/usr/bin/env python3
# tcpr-echo-many HOST PORT DIR N [HALF]: N ordinary TCP connections to an
# echo service from one process, checked byte for byte across a failover.
# Each connection: 3 lines echoed; then DIR/ready; wait for DIR/cut; 2
# lines sent at once (the outage); all echoed; 3 more lines echoed.
# With HALF=1 every 4th connection (i % 4 == 1) half-closes in the outage
# (its 2 lines and its FIN; it wants the echo, then end of file), and
# every 4th (i % 4 == 2) has the server half-close before the crash
# ("SHUT" echoed, then end of file): it then writes its 2 + 3 lines into
# the half-closed session, ends its side, and wants its FIN acknowledged
# (TCP_INFO state closed: the server's kernel took every byte).
# Prints "ok conns=N bytes=B", or "fail ..." and exits 1 (a reset, a
# closed or silent connection, a wrong byte).
import os, selectors, socket, sys, time

host, port, d, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
half = len(sys.argv) > 5 and sys.argv[5] == '1'
fam = socket.AF_INET6 if ':' in host else socket.AF_INET
sel = selectors.DefaultSelector()
conns = []
for i in range(n):
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.connect((host, port))
    s.setblocking(False)
    kind = ('E', 'P', 'S', 'E')[i % 4] if half else 'E'
    c = {'s': s, 'sent': bytearray(), 'got': bytearray(), 'i': i, 'k': 0,
         'kind': kind, 'eof': False, 'want_eof': False}
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

def waiting(c):
    if c['kind'] == 'S' and c['eof']:
        return False	# the server ended its side: no echo any more
    return len(c['got']) < len(c['sent']) or (c['want_eof'] and not c['eof'])

def drain(timeout):
    end = time.monotonic() + timeout
    while any(waiting(c) for c in conns):
        left = end - time.monotonic()
        if left <= 0:
            short = sum(1 for c in conns if waiting(c))
            raise TimeoutError('%d connections still waiting for their echo' % short)
        for key, _ in sel.select(min(left, 1.0)):
            c = key.data
            b = c['s'].recv(65536)
            if not b:
                if not c['want_eof'] or len(c['got']) < len(c['sent']):
                    raise EOFError('connection %d closed by the server' % c['i'])
                c['eof'] = True
                sel.unregister(c['s'])
                continue
            if c['eof']:
                raise ValueError('connection %d: bytes after end of file' % c['i'])
            c['got'].extend(b)

def closed(c):
    # TCP_INFO's first byte: the state; 7 is closed (our FIN acknowledged)
    return c['s'].getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0] == 7

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
    for c in conns:
        if c['kind'] == 'S':
            c['s'].setblocking(True)
            c['s'].sendall(b'SHUT\n')
            c['s'].setblocking(False)
            c['sent'].extend(b'SHUT\n')
            c['want_eof'] = True
    drain(60)
    open(os.path.join(d, 'ready'), 'w').close()
    wait_file('cut', 300)
    quiet = bytearray()	# what went into sessions the server half-closed
    for c in conns:
        if c['kind'] == 'S':
            n0 = len(c['sent'])
            send(c, 2)
            quiet.extend(c['sent'][n0:])
            del c['sent'][n0:]
        else:
            send(c, 2)
        if c['kind'] == 'P':
            c['s'].shutdown(socket.SHUT_WR)
            c['want_eof'] = True
    drain(120)
    for _ in range(3):
        for c in conns:
            if c['kind'] == 'P':
                continue
            n0 = len(c['sent'])
            send(c, 1)
            if c['kind'] == 'S':
                quiet.extend(c['sent'][n0:])
                del c['sent'][n0:]
        drain(60)
    for c in conns:
        if c['kind'] == 'S':
            c['s'].shutdown(socket.SHUT_WR)
    end = time.monotonic() + 120
    while not all(closed(c) for c in conns if c['kind'] == 'S'):
        if time.monotonic() > end:
            left = sum(1 for c in conns if c['kind'] == 'S' and not closed(c))
            raise TimeoutError('%d half-closed connections never closed' % left)
        time.sleep(0.05)
    bad = [c['i'] for c in conns if bytes(c['got']) != bytes(c['sent'])]
    if bad:
        raise ValueError('%d connections got other bytes than they sent' % len(bad))
except Exception as e:
    print('fail %s: %s' % (type(e).__name__, e))
    sys.exit(1)
print('ok conns=%d bytes=%d' % (n, sum(len(c['sent']) for c in conns)) +
      (' half_in=%d half_out=%d' % (sum(c['kind'] == 'P' for c in conns),
                                    sum(c['kind'] == 'S' for c in conns)) if half else ''))

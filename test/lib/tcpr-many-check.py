#!/usr/bin/env python3
# tcpr-many-check LIST N MODE [PROG ARG...]: run by tcpr-restore(8), check
# the hand-over against the store's records (LIST: tcpr-sync list), then
# exec PROG with everything as it came. MODE says how the session list
# must arrive: env (TCPR_SESSIONS) or fd (TCPR_SESSIONS_FD, a sealed
# memfd right after the sockets). Checks: TCPR_FDS is N; N entries, one
# per stored session, each with the record's offsets and flags; each
# descriptor 3.. an open, established TCP socket with the addresses of
# the entry's session. Prints "ok fds=N via=MODE bytes=B" on stderr
# (stdout is PROG's), or "fail: ..." and exits 1.
import errno, fcntl, os, socket, stat, sys

FLAGS = {'sack': 1, 'ts': 2, 'wscale': 4, 'fin_in': 8, 'fin_out': 16, 'end': 32}
SEALS = (fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW |
         fcntl.F_SEAL_WRITE)


def fail(msg):
    print('fail: ' + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def is_open(fd):
    try:
        os.fstat(fd)
        return True
    except OSError as e:
        if e.errno != errno.EBADF:
            raise
        return False


def addr(s):
    a, p = s.rsplit(':', 1)
    return (a.strip('[]'), int(p))


def sessions_text(n, mode):
    fds, text, sfd = os.environ.get('TCPR_FDS'), os.environ.get('TCPR_SESSIONS'), \
        os.environ.get('TCPR_SESSIONS_FD')
    if fds != str(n):
        fail('TCPR_FDS=%s, not %d' % (fds, n))
    if mode == 'env':
        if sfd is not None:
            fail('TCPR_SESSIONS_FD=%s set beside TCPR_SESSIONS' % sfd)
        if text is None:
            fail('TCPR_SESSIONS not set')
        if is_open(3 + n):
            fail('descriptor %d open after the sockets' % (3 + n))
        return text
    if text is not None:
        fail('TCPR_SESSIONS set (%d bytes) beside TCPR_SESSIONS_FD' % len(text))
    if sfd != str(3 + n):
        fail('TCPR_SESSIONS_FD=%s, not %d (right after the sockets)' % (sfd, 3 + n))
    fd = 3 + n
    if not is_open(fd):
        fail('TCPR_SESSIONS_FD %d is not open' % fd)
    if fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC:
        fail('TCPR_SESSIONS_FD %d is close-on-exec' % fd)
    link = os.readlink('/proc/self/fd/%d' % fd)
    if not link.startswith('/memfd:tcpr-sessions'):
        fail('TCPR_SESSIONS_FD %d is %s, not a memfd' % (fd, link))
    seals = fcntl.fcntl(fd, fcntl.F_GET_SEALS)
    if seals & SEALS != SEALS:
        fail('TCPR_SESSIONS_FD seals 0x%x, not 0x%x' % (seals, SEALS))
    try:
        os.pwrite(fd, b'x', 0)
        fail('TCPR_SESSIONS_FD is writable')
    except PermissionError:
        pass
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        fail('TCPR_SESSIONS_FD is not a regular file')
    # pread: the file offset stays at 0 for PROG
    b = os.pread(fd, st.st_size + 1, 0)
    if len(b) != st.st_size:
        fail('read %d of %d bytes from TCPR_SESSIONS_FD' % (len(b), st.st_size))
    return b.decode('ascii')


def main():
    if len(sys.argv) < 4 or sys.argv[3] not in ('env', 'fd'):
        print('usage: tcpr-many-check list n env|fd [prog arg ...]', file=sys.stderr)
        sys.exit(100)
    n, mode = int(sys.argv[2]), sys.argv[3]
    text = sessions_text(n, mode)
    # tcpr-restore's rule: the environment below 64 KiB, the memfd above
    if (mode == 'env') != (len(text) < 64 * 1024):
        fail('%d bytes of sessions came by %s' % (len(text), mode))
    rec = {}
    with open(sys.argv[1]) as f:
        for line in f:
            kv = dict(t.split('=', 1) for t in line.split()[1:])
            fl = sum(FLAGS[x] for x in kv['flags'].split(',') if x)
            rec[int(kv['sid'])] = (addr(kv['local']), addr(kv['peer']),
                                   int(kv['rcv']), int(kv['snd_nxt']), fl)
    if len(rec) != n:
        fail('the store lists %d sessions, not %d' % (len(rec), n))
    ent = text.split(' ')
    if len(ent) != n:
        fail('%d session entries for %d descriptors' % (len(ent), n))
    seen = set()
    for i, e in enumerate(ent):
        fd = 3 + i
        f = e.split(':')
        if len(f) != 4 or not all(x.isdigit() for x in f):
            fail('entry %d: %r is not sid:rcv:snd:flags' % (i, e))
        sid, rcv, snd, fl = map(int, f)
        if sid not in rec or sid in seen:
            fail('entry %d: sid %d %s' % (i, sid, 'twice' if sid in seen else 'not stored'))
        seen.add(sid)
        loc, peer, r_rcv, r_snd, r_fl = rec[sid]
        if (rcv, snd, fl) != (r_rcv, r_snd, r_fl):
            fail('entry %d (sid %d): %d:%d:%d, the record says %d:%d:%d' %
                 (i, sid, rcv, snd, fl, r_rcv, r_snd, r_fl))
        try:
            s = socket.socket(fileno=fd)
        except OSError as x:
            fail('descriptor %d (sid %d): %s' % (fd, sid, x))
        try:
            if s.type != socket.SOCK_STREAM or s.proto not in (0, socket.IPPROTO_TCP):
                fail('descriptor %d is not a TCP socket' % fd)
            got = (s.getsockname()[:2], s.getpeername()[:2])
            if got != (loc, peer):
                fail('descriptor %d: %s, sid %d is %s' % (fd, got, sid, (loc, peer)))
            # TCP_INFO's first byte: the state, 1 established
            st = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
            if st != 1:
                fail('descriptor %d (sid %d): TCP state %d, not established' % (fd, sid, st))
            if not os.get_inheritable(fd):
                fail('descriptor %d is close-on-exec' % fd)
        finally:
            s.detach()	# not closed: PROG gets it
    print('ok fds=%d via=%s bytes=%d' % (n, mode, len(text)), file=sys.stderr, flush=True)
    if len(sys.argv) > 4:
        os.execvp(sys.argv[4], sys.argv[4:])


main()

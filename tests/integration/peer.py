#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""A socket peer driven line by line on stdin, for the integration tests.

The harness runs one peer per process (inside the test's network namespace)
so that every socket has a known owner pid. Each command prints exactly one
reply line: "ok ..." or "err ...". The first line printed is "pid N" so the
test knows the owner it must see in tcptrail's records.

Commands (one socket of each kind is kept: the listener and the connection):
  listen FAMILY ADDR PORT [V6ONLY]   FAMILY is 4 or 6; V6ONLY 0 or 1
  connect FAMILY ADDR PORT [TIMEOUT] -> ok connect LPORT | err connect ERRNO
  connect_from FAMILY ADDR PORT LPORT  the same from local port LPORT
                                     (SO_REUSEADDR: may reuse a timewait socket)
  accept                             -> ok accept RPORT
  send N                             sends N bytes
  recv N                             reads exactly N bytes
  recv_eof                           reads until EOF -> ok recv_eof TOTAL
  drain SECONDS                      reads until EOF or for SECONDS, into a
                                     buffer made at start, so that reading
                                     allocates nothing (a peer in a memory
                                     cgroup) -> ok drain TOTAL
  linger0                            SO_LINGER {1, 0}: close() sends a RST
  close | close_listener
  fork_handoff                       fork; the parent closes its copy of the
                                     connection first, then the child closes
                                     its copy (which sends the FIN)
                                     -> ok fork_handoff CHILDPID
  serve N                            a thread accepts N connections, reads
                                     each to EOF then closes it; prints
                                     "done serve N" when finished
  bulk FAMILY ADDR PORT N            N times: connect, send 1 byte, close
  sleep SECONDS
  quit
"""
import errno
import os
import socket
import struct
import sys
import threading
import time

out_lock = threading.Lock()


def say(line):
    with out_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def fam(f):
    return socket.AF_INET6 if f == "6" else socket.AF_INET


class Peer:
    def __init__(self):
        self.listener = None
        self.conn = None
        self.keep = []   # sockets kept open on purpose (snapshot tests)
        # written through, so that its pages are there before the peer
        # joins a memory cgroup (calloc'd pages would be charged on first use)
        self.rbuf = bytearray(b"\1") * (256 << 10)

    def do_listen(self, f, addr, port, v6only=None):
        s = socket.socket(fam(f), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if v6only is not None:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, int(v6only))
        s.bind((addr, int(port)))
        s.listen(4096)
        if self.listener is not None:
            self.keep.append(self.listener)
        self.listener = s
        return "ok listen"

    def do_connect_from(self, f, addr, port, lport):
        return self.do_connect(f, addr, port, lport=lport)

    def do_connect(self, f, addr, port, timeout=None, lport=None):
        s = socket.socket(fam(f), socket.SOCK_STREAM)
        if lport is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if f == "6" else "0.0.0.0", int(lport)))
        if timeout is not None:
            s.settimeout(float(timeout))
        try:
            s.connect((addr, int(port)))
        except OSError as e:
            s.close()
            name = errno.errorcode.get(e.errno, "E?") if e.errno else "ETIMEDOUT"
            return "err connect " + name
        s.settimeout(None)
        if self.conn is not None:
            self.keep.append(self.conn)
        self.conn = s
        return "ok connect %d" % s.getsockname()[1]

    def do_accept(self):
        c, addr = self.listener.accept()
        if self.conn is not None:
            self.keep.append(self.conn)
        self.conn = c
        return "ok accept %d" % addr[1]

    def do_send(self, n):
        self.conn.sendall(b"x" * int(n))
        return "ok send %s" % n

    def do_recv(self, n):
        want = int(n)
        got = 0
        while got < want:
            b = self.conn.recv(want - got)
            if not b:
                return "err recv eof after %d" % got
            got += len(b)
        return "ok recv %d" % got

    def do_recv_eof(self):
        total = 0
        while True:
            b = self.conn.recv(65536)
            if not b:
                return "ok recv_eof %d" % total
            total += len(b)

    def do_drain(self, secs):
        total = 0
        end = time.monotonic() + float(secs)
        try:
            while True:
                left = end - time.monotonic()
                if left <= 0:
                    break
                self.conn.settimeout(left)
                n = self.conn.recv_into(self.rbuf)
                if not n:
                    break
                total += n
        except socket.timeout:
            pass
        finally:
            self.conn.settimeout(None)
        return "ok drain %d" % total

    def do_linger0(self):
        self.conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return "ok linger0"

    def do_close(self):
        self.conn.close()
        self.conn = None
        return "ok close"

    def do_close_listener(self):
        self.listener.close()
        self.listener = None
        return "ok close_listener"

    def do_fork_handoff(self):
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            # child: wait until the parent dropped its reference, so that
            # this close is the last one and sends the FIN
            os.close(go_w)
            os.read(go_r, 1)
            self.conn.close()
            os._exit(0)
        os.close(go_r)
        self.conn.close()          # no FIN: the child still holds the file
        self.conn = None
        os.write(go_w, b"g")
        os.close(go_w)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            return "err fork_handoff child status %d" % status
        return "ok fork_handoff %d" % pid

    def do_serve(self, n):
        n = int(n)
        lst = self.listener

        def run():
            try:
                for _ in range(n):
                    c, _ = lst.accept()
                    while c.recv(65536):
                        pass
                    c.close()
                say("done serve %d" % n)
            except OSError as e:
                say("err serve %s" % e)

        threading.Thread(target=run, daemon=True).start()
        return "ok serve"

    def do_bulk(self, f, addr, port, n):
        for i in range(int(n)):
            s = socket.socket(fam(f), socket.SOCK_STREAM)
            try:
                s.connect((addr, int(port)))
                s.sendall(b"x")
            except OSError as e:
                s.close()
                return "err bulk %d %s" % (i, e)
            s.close()
        return "ok bulk %s" % n

    def do_sleep(self, secs):
        time.sleep(float(secs))
        return "ok sleep"


def main():
    p = Peer()
    say("pid %d" % os.getpid())
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            say("ok quit")
            return 0
        fn = getattr(p, "do_" + words[0], None)
        if fn is None:
            say("err unknown command " + words[0])
            continue
        try:
            say(fn(*words[1:]))
        except Exception as e:   # report, never die silently: the test waits
            say("err %s %s: %s" % (words[0], type(e).__name__, e))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The socket kernels and their echo server (issue 26), as include/parbench/kernels/socket_tasks.hpp and
include/parbench/echo_server.hpp define them.

  socket_tasks.delay_<D>us  n requests to an echo server on 127.0.0.1 that answers each after D microseconds.
                            A chunk opens one connection and sends its requests one after another: 8 bytes
                            holding i + 1 (native byte order), answered by the same 8 bytes. The total is the sum
                            of the answers, n(n+1)/2. Every wait has a deadline (--socket-timeout-ms, default
                            5000), so a server that dies, refuses or stops answering is an error naming it.

The echo server is a child process (python -m parbench.cpython.sockets) serving the listening socket its parent
made, with asyncio; each connection waits on its own, so a thousand delayed requests take one delay. It exits
when its parent closes its stdin (or dies), and EchoServer.stop() kills and reaps it: nothing is left behind.
Connections, like the C++ ones, set TCP_NODELAY and close with a reset (SO_LINGER 0), so that thousands of
connections leave no TIME_WAIT behind.
"""

import asyncio
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
import typing

REQUEST = struct.Struct("=Q")
HOST = "127.0.0.1"
BACKLOG = 65535  # capped by the kernel at net.core.somaxconn, as in detail/loopback.hpp
READY_TIMEOUT_S = 30.0
LINGER_RESET = struct.pack("ii", 1, 0)


class SocketTaskError(RuntimeError):
    """The echo server failed a task: it refused, closed, broke the connection, or did not answer in time."""


def set_connection_options(sock):
    """No Nagle delay; close with a reset (no TIME_WAIT), as detail::set_connection_options does."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER_RESET)


def server_text(port):
    return "socket_tasks: the echo server at %s:%d" % (HOST, port)


def reason(err):
    """An OSError's reason, as strerror words it (asyncio's connect error carries other text)."""
    return os.strerror(err.errno) if err.errno else str(err)


def cannot_connect(port, err):
    return SocketTaskError("socket_tasks: could not connect to the echo server at %s:%d: %s"
                           % (HOST, port, reason(err)))


def no_answer(port, timeout_s):
    return SocketTaskError("%s did not answer within %d ms" % (server_text(port), round(timeout_s * 1e3)))


def check(port, request, answer):
    if answer != request:
        raise SocketTaskError("%s answered %d to request %d" % (server_text(port), answer, request))
    return answer


def socket_tasks_chunk(begin, end, arg):
    """Blocking: one connection for the chunk, each request sent once the last is answered."""
    port, timeout_s = arg
    if begin >= end:
        return 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        set_connection_options(sock)
        sock.settimeout(timeout_s)
        try:
            sock.connect((HOST, port))
        except socket.timeout:
            raise no_answer(port, timeout_s) from None
        except OSError as err:
            raise cannot_connect(port, err) from None
        total = 0
        for i in range(begin, end):
            try:
                sock.sendall(REQUEST.pack(i + 1))
                answer = b""
                while len(answer) < REQUEST.size:
                    part = sock.recv(REQUEST.size - len(answer))
                    if not part:
                        raise SocketTaskError("%s closed the connection before it answered" % server_text(port))
                    answer += part
            except socket.timeout:
                raise no_answer(port, timeout_s) from None
            except OSError as err:
                raise SocketTaskError("%s broke the connection: %s" % (server_text(port), reason(err))) from None
            total += check(port, i + 1, REQUEST.unpack(answer)[0])
        return total
    finally:
        sock.close()


async def within(awaitable, timeout_s):
    """awaitable, or asyncio.TimeoutError after timeout_s: asyncio.timeout (3.11 and later) where it exists, a timer
    handle on the running task; before, asyncio.wait_for, which wraps each wait in a task of its own."""
    if hasattr(asyncio, "timeout"):
        async with asyncio.timeout(timeout_s):
            return await awaitable
    return await asyncio.wait_for(awaitable, timeout_s)


async def socket_tasks_coroutine(begin, end, arg):
    """asyncio streams: the same requests, the task giving the thread away at every wait."""
    port, timeout_s = arg
    if begin >= end:
        return 0
    try:
        reader, writer = await within(asyncio.open_connection(HOST, port), timeout_s)
    except asyncio.TimeoutError:
        raise no_answer(port, timeout_s) from None
    except OSError as err:
        raise cannot_connect(port, err) from None
    try:
        set_connection_options(writer.get_extra_info("socket"))
        total = 0
        for i in range(begin, end):
            writer.write(REQUEST.pack(i + 1))
            try:
                answer = await within(reader.readexactly(REQUEST.size), timeout_s)
            except asyncio.TimeoutError:
                raise no_answer(port, timeout_s) from None
            except asyncio.IncompleteReadError:
                raise SocketTaskError("%s closed the connection before it answered" % server_text(port)) from None
            except OSError as err:
                raise SocketTaskError("%s broke the connection: %s" % (server_text(port), reason(err))) from None
            total += check(port, i + 1, REQUEST.unpack(answer)[0])
        return total
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except OSError:
            pass  # the reset this side sent, or the one the server did


# The server side.

MODES = ("echo", "mute", "die")  # mute: reads and never answers; die: exits at its first request


class Echo(asyncio.Protocol):
    def __init__(self, loop, delay_s, mode):
        self.loop, self.delay_s, self.mode = loop, delay_s, mode
        self.transport: typing.Any = None

    def connection_made(self, transport):
        self.transport = transport
        set_connection_options(transport.get_extra_info("socket"))

    def data_received(self, data):
        if self.mode == "die":
            os._exit(1)
        if self.mode == "mute":
            return
        if self.delay_s > 0:
            self.loop.call_later(self.delay_s, self.reply, data)
        else:
            self.transport.write(data)

    def reply(self, data):
        if not self.transport.is_closing():
            self.transport.write(data)


async def serve(listener, delay_s, mode):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Echo(loop, delay_s, mode), sock=listener, backlog=BACKLOG)
    stdin_closed = loop.create_future()

    def on_stdin():
        if not os.read(0, 4096) and not stdin_closed.done():
            stdin_closed.set_result(None)
    loop.add_reader(0, on_stdin)
    os.write(1, b"ready\n")
    async with server:
        await stdin_closed  # the parent closed the pipe or died


def server_main(argv):
    """python -m parbench.cpython.sockets FD DELAY_US MODE: serve the listening socket FD until stdin closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is the parent's to handle; it then stops the server
    fd, delay_us, mode = int(argv[0]), int(argv[1]), argv[2]
    listener = socket.socket(fileno=fd)
    asyncio.run(serve(listener, delay_us / 1e6, mode))


class EchoServer:
    """An echo server child listening on 127.0.0.1 at a port the kernel picks; stop() kills and reaps it."""

    def __init__(self, delay_us, mode="echo", timeout_s=5.0):
        self.timeout_s = timeout_s
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind((HOST, 0))
            listener.listen(BACKLOG)
            self.port = listener.getsockname()[1]
            tools = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
            env = dict(os.environ, PYTHONPATH=os.pathsep.join([tools] + [p for p in [os.environ.get("PYTHONPATH")]
                                                                         if p]))
            self.process = subprocess.Popen(
                [sys.executable, "-m", "parbench.cpython.sockets", str(listener.fileno()), str(int(delay_us)), mode],
                pass_fds=[listener.fileno()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        finally:
            listener.close()  # the server holds it now: once it is gone, connections are refused
        self.wait_ready()

    @property
    def arg(self):
        """What socket_tasks_chunk and socket_tasks_coroutine take: (port, timeout in seconds)."""
        return (self.port, self.timeout_s)

    def wait_ready(self):
        """Until the server says it serves (its interpreter starts in tens of ms), so no run waits for that."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        out = self.process.stdout
        assert out is not None
        line = b""
        while not line.endswith(b"\n"):
            ready, _, _ = select.select([out], [], [], max(0.0, deadline - time.monotonic()))
            part = os.read(out.fileno(), 64) if ready else b""
            if not part:
                why = "it exited with code %s" % self.process.wait() if ready \
                    else "it did not answer within %d s" % READY_TIMEOUT_S
                self.stop()
                raise SocketTaskError("socket_tasks: the echo server did not start: " + why)
            line += part

    def stop(self):
        """Kills the server and reaps it; its connections are reset. Idempotent."""
        if self.process.returncode is None:
            self.process.kill()
            self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None and not pipe.closed:
                pipe.close()


if __name__ == "__main__":
    server_main(sys.argv[1:])

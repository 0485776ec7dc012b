#pragma once
// The channels of overhead/ipc and its message protocol. Shared with test/test_ipc.cpp.

#include <mqueue.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "parbench/detail/fd.hpp"
#include "peer.hpp"
#include "shm_ring.hpp"

namespace parbench::bench::ipc {

// Byte channels, duplex: the caller sends "down" to the peer, the peer sends "up". send/recv move whole messages
// and return false on failure (peer gone, out of patience).

enum class side { caller, peer };

// Two pipes.
class pipe_channel {
public:
    static constexpr std::string_view name = "pipe";
    bool send(side s, const void* p, std::size_t n) {
        return pd::write_full((s == side::caller ? pipes_.down.write : pipes_.up.write).get(), p, n);
    }
    bool recv(side s, void* p, std::size_t n) {
        return pd::read_full((s == side::caller ? pipes_.up.read : pipes_.down.read).get(), p, n) ==
               static_cast<ssize_t>(n);
    }
    void in_child() { pipes_.in_child(); }
    void in_parent() { pipes_.in_parent(); }

private:
    duplex_pipes pipes_;
};

// One AF_UNIX stream socket pair, both directions on one descriptor each side.
class socketpair_channel {
public:
    static constexpr std::string_view name = "socketpair";
    socketpair_channel() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) pd::throw_errno("socketpair");
        caller_.reset(fds[0]);
        peer_.reset(fds[1]);
    }
    bool send(side s, const void* p, std::size_t n) { return pd::write_full(fd(s), p, n); }
    bool recv(side s, void* p, std::size_t n) { return pd::read_full(fd(s), p, n) == static_cast<ssize_t>(n); }
    void in_child() { caller_.reset(); }
    void in_parent() { peer_.reset(); }

private:
    int fd(side s) const { return (s == side::caller ? caller_ : peer_).get(); }
    pd::unique_fd caller_, peer_;
};

// Two POSIX message queues. A message longer than the queue's message size travels as several; a dead peer
// shows as a timed-out send or receive.
class posix_mq_channel {
public:
    static constexpr std::string_view name = "posix_mq";
    posix_mq_channel() : down_(open_queue()), up_(open_queue()) {}
    posix_mq_channel(const posix_mq_channel&) = delete;
    posix_mq_channel& operator=(const posix_mq_channel&) = delete;
    ~posix_mq_channel() {
        close_queue(down_);
        close_queue(up_);
    }

    bool send(side s, const void* p, std::size_t n) {
        const auto* b = static_cast<const char*>(p);
        const timespec until = deadline();
        for (std::size_t off = 0; off < n;) {
            const std::size_t len = std::min(n - off, msgsize_);
            if (::mq_timedsend(s == side::caller ? down_ : up_, b + off, len, 0, &until) != 0) {
                if (errno == EINTR) continue;
                return false;
            }
            off += len;
        }
        return true;
    }
    bool recv(side s, void* p, std::size_t n) {
        auto* b = static_cast<char*>(p);
        const timespec until = deadline();
        for (std::size_t off = 0; off < n;) {
            // mq_receive wants room for a whole message; the last piece of a message goes through scratch_.
            const bool direct = n - off >= msgsize_;
            char* into = direct ? b + off : scratch_.data();
            const ssize_t r = ::mq_timedreceive(s == side::caller ? up_ : down_, into, msgsize_, nullptr, &until);
            if (r < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            const auto got = static_cast<std::size_t>(r);
            if (got > n - off) return false;  // out of step with the sender
            if (!direct) std::memcpy(b + off, scratch_.data(), got);
            off += got;
        }
        return true;
    }
    void in_child() {}
    void in_parent() {}

    // Whether this kernel offers POSIX message queues to us.
    [[nodiscard]] static bool available() {
        try {
            const posix_mq_channel probe;
            return true;
        } catch (const std::exception&) {
            return false;
        }
    }

private:
    static long read_limit(const char* path, long fallback) {
        long v = fallback;
        if (std::FILE* f = std::fopen(path, "r")) {
            if (std::fscanf(f, "%ld", &v) != 1) v = fallback;
            std::fclose(f);
        }
        return v;
    }
    // The largest messages an unprivileged process may ask for (8 KiB on a stock kernel), 10 deep.
    static std::size_t max_msgsize() {
        static const std::size_t v =
            static_cast<std::size_t>(std::clamp(read_limit("/proc/sys/fs/mqueue/msgsize_max", 8192), 128L, 65536L));
        return v;
    }
    static mqd_t open_queue() {
        static std::atomic<unsigned> serial{0};
        const std::string qname = "/parbench." + std::to_string(::getpid()) + "." + std::to_string(serial++);
        mq_attr attr{};
        attr.mq_maxmsg = std::clamp(read_limit("/proc/sys/fs/mqueue/msg_max", 10), 1L, 10L);
        attr.mq_msgsize = static_cast<long>(max_msgsize());
        const mqd_t q = ::mq_open(qname.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600, &attr);
        if (q == static_cast<mqd_t>(-1)) pd::throw_errno("mq_open");
        ::mq_unlink(qname.c_str());  // nameless from now on: nothing left behind if we die
        return q;
    }
    static void close_queue(mqd_t q) noexcept {
        if (q != static_cast<mqd_t>(-1)) ::mq_close(q);
    }
    static timespec deadline() {
        timespec now{};
        ::clock_gettime(CLOCK_REALTIME, &now);
        now.tv_sec += std::chrono::duration_cast<std::chrono::seconds>(patience).count();
        return now;
    }

    std::size_t msgsize_ = max_msgsize();
    std::string scratch_ = std::string(max_msgsize(), '\0');
    mqd_t down_;
    mqd_t up_;
};

// Two shm_rings in shared memory, futex-parked.
class shm_ring_channel {
public:
    static constexpr std::string_view name = "shm_ring";
    static constexpr std::size_t capacity = std::size_t{256} * 1024;
    bool send(side s, const void* p, std::size_t n) {
        return (s == side::caller ? down_ : up_).write(p, n, patience) == n;
    }
    bool recv(side s, void* p, std::size_t n) { return (s == side::caller ? up_ : down_).read(p, n, patience) == n; }
    void in_child() {}
    void in_parent() {}

private:
    shm_ring down_{capacity};
    shm_ring up_{capacity};
};

// The message protocol of overhead/ipc: each message of B >= 8 bytes starts (and, from 16 bytes, ends) with its
// sequence number, which the receiver checks. Sequence `stop_seq` ends the peer, which answers with the count of
// good messages it received.

inline constexpr std::uint64_t stop_seq = ~std::uint64_t{0};

inline void stamp(char* msg, std::size_t size, std::uint64_t seq) noexcept {
    std::memcpy(msg, &seq, sizeof seq);
    if (size >= 2 * sizeof seq) std::memcpy(msg + size - sizeof seq, &seq, sizeof seq);
}
[[nodiscard]] inline bool stamped(const char* msg, std::size_t size, std::uint64_t seq) noexcept {
    std::uint64_t a = 0, b = seq;
    std::memcpy(&a, msg, sizeof a);
    if (size >= 2 * sizeof seq) std::memcpy(&b, msg + size - sizeof b, sizeof b);
    return a == seq && b == seq;
}
[[nodiscard]] inline std::uint64_t seq_of(const char* msg) noexcept {
    std::uint64_t s = 0;
    std::memcpy(&s, msg, sizeof s);
    return s;
}

// The peer's side: receive messages of `size` bytes, check them, echo them when `echo`; at stop_seq report the
// count and end.
template <class C>
int serve_messages(C& ch, std::size_t size, bool echo) {
    std::string buf(size, '\0');
    std::uint64_t good = 0;
    for (;;) {
        if (!ch.recv(side::peer, buf.data(), size)) return peer_timeout;
        if (seq_of(buf.data()) == stop_seq) {
            return ch.send(side::peer, &good, sizeof good) ? peer_ok : peer_io_error;
        }
        if (!stamped(buf.data(), size, good)) return peer_bad_data;
        ++good;
        if (echo && !ch.send(side::peer, buf.data(), size)) return peer_io_error;
    }
}

// The caller's side of the end: stop the peer and read back how many good messages it counted.
template <class C>
std::optional<std::uint64_t> stop_messages(C& ch, std::size_t size) {
    std::string buf(size, '\0');
    stamp(buf.data(), size, stop_seq);
    std::uint64_t good = 0;
    if (!ch.send(side::caller, buf.data(), size) || !ch.recv(side::caller, &good, sizeof good)) return std::nullopt;
    return good;
}

}  // namespace parbench::bench::ipc

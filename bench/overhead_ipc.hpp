#pragma once
// The machinery of overhead/ping_pong/... and overhead/ipc/...: a peer (a thread or a forked child), pinning to
// one CPU, the ping-pong mechanisms and the byte channels. Kept apart from the benchmarks so test/test_ipc.cpp
// can check that every mechanism and channel delivers, with thread peers and process peers.
//
// Every wait has a patience: a peer that dies or hangs makes the caller's call return false (then peer::ended()
// says why), never a hang. Descriptor channels notice a dead peer by EOF/EPIPE instead, once each side has closed
// the other's ends (in_parent / in_child).

#include <mqueue.h>
#include <sched.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "parbench/detail/child.hpp"
#include "parbench/detail/fd.hpp"
#include "parbench/detail/futex.hpp"
#include "parbench/detail/shm.hpp"
#include "parbench/detail/shm_ring.hpp"
#include "parbench/detail/spin.hpp"

namespace parbench::bench::ipc {

namespace pd = parbench::detail;
using namespace std::chrono_literals;
using clock = std::chrono::steady_clock;

// How long either side waits for the other before it gives up.
inline constexpr std::chrono::nanoseconds patience = 5s;

// A write to a pipe whose reader is gone raises SIGPIPE, which ends the process unless it is ignored; ignored, the
// write fails with EPIPE and the channel reports a dead peer. bench_parallel and the tests both run this way.
inline void ignore_sigpipe() noexcept { std::signal(SIGPIPE, SIG_IGN); }
// Exit codes of a peer body.
inline constexpr int peer_ok = 0;
inline constexpr int peer_timeout = 3;
inline constexpr int peer_bad_data = 4;
inline constexpr int peer_io_error = 5;

[[nodiscard]] inline std::string describe_peer_code(int code) {
    switch (code) {
        case peer_timeout: return "peer timed out waiting";
        case peer_bad_data: return "peer received corrupt or out-of-order data";
        case peer_io_error: return "peer hit an I/O error";
        default: return "peer returned " + std::to_string(code);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// peer: runs `int body()` beside the caller, in a thread or a forked child.

enum class peer_kind { thread, process };

class peer {
public:
    // For a process, hooks.in_child() runs first in the child and hooks.in_parent() in the parent after the fork.
    template <class Hooks, class Body>
    peer(peer_kind kind, Hooks& hooks, Body body) : kind_(kind) {
        if (kind == peer_kind::thread) {
            thread_ = std::thread([this, body]() mutable {
                code_.store(body());
                done_.store(1);
                pd::futex_wake(done_);
            });
        } else {
            pid_ = pd::fork_child([&hooks, body]() mutable {
                hooks.in_child();
                return body();
            });
            hooks.in_parent();
        }
    }
    peer(const peer&) = delete;
    peer& operator=(const peer&) = delete;
    ~peer() {
        if (thread_.joinable()) thread_.join();  // the body gives up by itself after `patience`
        if (pid_ > 0) pd::kill_and_reap(pid_);
    }

    // Waits up to `timeout` for the body to end. Empty when it returned peer_ok; otherwise why not.
    [[nodiscard]] std::optional<std::string> finish(std::chrono::nanoseconds timeout = patience) {
        if (kind_ == peer_kind::thread) {
            const auto deadline = clock::now() + timeout;
            while (done_.load() == 0) {
                const auto left = deadline - clock::now();
                if (left <= 0s) return "peer thread did not finish";
                pd::futex_wait(done_, 0, left);
            }
            thread_.join();
            return outcome(code_.load());
        }
        const auto status = pd::reap_for(pid_, timeout);
        if (!status) {
            pd::kill_and_reap(std::exchange(pid_, -1));
            return "peer process did not finish; killed";
        }
        pid_ = -1;
        if (WIFEXITED(*status)) return outcome(WEXITSTATUS(*status));
        return "peer process ended by " + pd::describe_status(*status);
    }

    // After a failed call: why the peer is gone, or that it is alive but did not answer.
    [[nodiscard]] std::string why_failed() {
        if (auto f = finish(100ms)) return *f;
        return "peer ended cleanly while still needed";
    }

private:
    static std::optional<std::string> outcome(int code) {
        if (code == peer_ok) return std::nullopt;
        return describe_peer_code(code);
    }

    peer_kind kind_;
    std::thread thread_;
    std::atomic<std::uint32_t> done_{0};
    std::atomic<int> code_{0};
    pid_t pid_ = -1;
};

// ---------------------------------------------------------------------------------------------------------------
// Pinning the calling thread (and so the threads and children it starts) to one CPU for a scope.

class pin_scope {
public:
    // Pins to the first CPU this thread may run on; ok() says whether it worked.
    pin_scope() {
        if (sched_getaffinity(0, sizeof saved_, &saved_) != 0) return;
        for (std::size_t c = 0; c < CPU_SETSIZE; ++c) {
            if (!CPU_ISSET(c, &saved_)) continue;
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(c, &one);
            if (sched_setaffinity(0, sizeof one, &one) == 0) cpu_ = static_cast<int>(c);
            return;
        }
    }
    ~pin_scope() {
        if (cpu_ >= 0) (void)sched_setaffinity(0, sizeof saved_, &saved_);
    }
    pin_scope(const pin_scope&) = delete;
    pin_scope& operator=(const pin_scope&) = delete;

    [[nodiscard]] bool ok() const noexcept { return cpu_ >= 0; }
    [[nodiscard]] int cpu() const noexcept { return cpu_; }

    // Whether this machine lets us pin at all (containers may forbid sched_setaffinity).
    [[nodiscard]] static bool allowed() {
        const pin_scope probe;
        return probe.ok();
    }

private:
    cpu_set_t saved_{};
    int cpu_ = -1;
};

// ---------------------------------------------------------------------------------------------------------------
// Ping-pong mechanisms. ping() is one round trip from the caller to the peer and back; serve() is the peer's loop
// until stop().

struct no_hooks {
    void in_child() noexcept {}
    void in_parent() noexcept {}
};

// A mutex, a condition variable and whose turn it is. Threads only.
class condvar_ping_pong : public no_hooks {
public:
    bool ping() {
        {
            const std::lock_guard lock(m_);
            turn_ = peer_turn;
        }
        cv_.notify_one();
        std::unique_lock lock(m_);
        return cv_.wait_for(lock, patience, [&] { return turn_ == caller_turn; });
    }
    int serve() {
        std::unique_lock lock(m_);
        for (;;) {
            if (!cv_.wait_for(lock, patience, [&] { return turn_ != caller_turn; })) return peer_timeout;
            if (turn_ == stop_turn) return peer_ok;
            turn_ = caller_turn;
            lock.unlock();
            cv_.notify_one();
            lock.lock();
        }
    }
    void stop() {
        {
            const std::lock_guard lock(m_);
            turn_ = stop_turn;
        }
        cv_.notify_one();
    }

private:
    enum turn { caller_turn, peer_turn, stop_turn };
    std::mutex m_;
    std::condition_variable cv_;
    turn turn_ = caller_turn;
};

// One 32-bit word in shared memory whose value says whose turn it is; the waiter parks on it (futex) or spins on
// it. Works between threads and between forked processes alike.
template <bool Spin>
class word_ping_pong : public no_hooks {
public:
    bool ping() {
        set(peer_turn);
        return await_not(peer_turn);
    }
    int serve() {
        for (;;) {
            if (!await_not(caller_turn)) return peer_timeout;
            if (word_->load(std::memory_order_acquire) == stop_turn) return peer_ok;
            set(caller_turn);
        }
    }
    void stop() { set(stop_turn); }

private:
    static constexpr std::uint32_t caller_turn = 0, peer_turn = 1, stop_turn = 2;

    void set(std::uint32_t v) {
        word_->store(v, std::memory_order_release);
        if constexpr (!Spin) pd::futex_wake(*word_, 1);
    }
    // Waits while the word holds `v`; false after `patience`.
    bool await_not(std::uint32_t v) {
        if constexpr (Spin) {
            auto deadline = clock::time_point::min();
            for (unsigned i = 1;; ++i) {
                if (word_->load(std::memory_order_acquire) != v) return true;
                pd::cpu_relax();
                if (i % 4096 == 0) {  // the clock only now and then: it is not free on every VM
                    const auto now = clock::now();
                    if (deadline == clock::time_point::min()) deadline = now + patience;
                    else if (now > deadline) return false;
                }
            }
        } else {
            auto deadline = clock::time_point::min();
            while (word_->load(std::memory_order_acquire) == v) {
                std::chrono::nanoseconds left = patience;
                if (deadline == clock::time_point::min()) {
                    deadline = clock::now() + patience;
                } else {
                    left = deadline - clock::now();
                    if (left <= 0s) return word_->load(std::memory_order_acquire) != v;
                }
                pd::futex_wait(*word_, v, left);
            }
            return true;
        }
    }

    pd::shared_object<std::atomic<std::uint32_t>> word_{caller_turn};
};
using futex_ping_pong = word_ping_pong<false>;
using spin_ping_pong = word_ping_pong<true>;

// One byte each way over two pipes, as `perf bench sched pipe` does. A dead peer shows as EOF or EPIPE.
class pipe_ping_pong {
public:
    bool ping() {
        const char c = 'p';
        char r = 0;
        return pd::write_full(pipes_.down.write.get(), &c, 1) && pd::read_full(pipes_.up.read.get(), &r, 1) == 1;
    }
    int serve() {
        char c = 0;
        for (;;) {
            const ssize_t r = pd::read_full(pipes_.down.read.get(), &c, 1);
            if (r == 0) return peer_ok;  // the caller closed: stop
            if (r != 1 || !pd::write_full(pipes_.up.write.get(), &c, 1)) return peer_io_error;
        }
    }
    void stop() { pipes_.down.write.reset(); }
    void in_child() { pipes_.in_child(); }
    void in_parent() { pipes_.in_parent(); }

private:
    pd::duplex_pipes pipes_;
};

// ---------------------------------------------------------------------------------------------------------------
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
    pd::duplex_pipes pipes_;
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
    static constexpr std::size_t capacity = 256 * 1024;
    bool send(side s, const void* p, std::size_t n) {
        return (s == side::caller ? down_ : up_).write(p, n, patience) == n;
    }
    bool recv(side s, void* p, std::size_t n) { return (s == side::caller ? up_ : down_).read(p, n, patience) == n; }
    void in_child() {}
    void in_parent() {}

private:
    pd::shm_ring down_{capacity};
    pd::shm_ring up_{capacity};
};

// ---------------------------------------------------------------------------------------------------------------
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

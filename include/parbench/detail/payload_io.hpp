#pragma once
// Moving a payload kernel's data (payload.hpp) between the caller and worker processes through pipes, written once
// for processes.pipe, processes.cow, processes.spawn and processes.forkserver.
// - Worker side, stream_chunk: reads its chunk's input from a pipe (or, for a fork that inherited the caller's
//   memory, reads it in place), runs the kernel block by block and writes each block's output as it is done, then
//   its outcome: frames of [elements, then that many output elements], ended by [0, then a child_outcome]. A
//   kernel that throws sends the end frame with its message at once.
// - Caller side, payload_exchange: one poll loop over every worker's two pipes, writing inputs and reading
//   outputs straight into the caller's output array, until each worker has sent its outcome, closed its pipe
//   (it died: how far it got is kept, so the error says it died mid-transfer) or the deadline passed.

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "../chunk.hpp"
#include "../error.hpp"
#include "../payload.hpp"
#include "child.hpp"
#include "fd.hpp"

namespace parbench::detail {

template <class R>
struct child_outcome;

// Elements per block a worker streams: 64 KiB of them, a pipe's default buffer.
template <class T>
inline constexpr std::uint64_t payload_block = std::max<std::uint64_t>(1, (64 * 1024) / sizeof(T));

// In a worker: runs chunk c of k, its input from in_fd (or, in_fd < 0, from k.input() in place: a fork's
// inherited copy), streaming each block's output to out_fd, then the outcome. Returns the exit status.
template <payload_kernel K>
int stream_chunk(const K& k, chunk c, int in_fd, int out_fd) noexcept {
    using T = typename K::element;
    using R = typename K::result;
    constexpr std::uint64_t per_block = payload_block<T>;
    child_outcome<R> out;
    int status = 0;
    try {
        std::vector<T> src(in_fd >= 0 ? static_cast<std::size_t>(std::min(per_block, c.size())) : 0);
        std::vector<T> dst(static_cast<std::size_t>(std::min(per_block, c.size())));
        std::optional<R> total;
        for (std::uint64_t b = c.begin; b < c.end;) {
            const std::uint64_t count = std::min(per_block, c.end - b);
            const std::size_t bytes = static_cast<std::size_t>(count) * sizeof(T);
            std::span<const T> in;
            if (in_fd >= 0) {
                if (read_full(in_fd, src.data(), bytes) != static_cast<ssize_t>(bytes)) return exit_unsent;
                in = {src.data(), static_cast<std::size_t>(count)};
            } else {
                in = k.input().subspan(b, count);
            }
            const R r = k.run(chunk{b, b + count}, in, std::span<T>(dst.data(), static_cast<std::size_t>(count)));
            total = total ? K::combine(*total, r) : r;
            if (!write_full(out_fd, &count, sizeof count) || !write_full(out_fd, dst.data(), bytes)) return exit_unsent;
            b += count;
        }
        out.value = total ? *total : k.run(chunk{c.begin, c.begin}, std::span<const T>(), std::span<T>());
    } catch (...) {
        out.set_error(current_exception_message());
        status = exit_uncaught;
    }
    const std::uint64_t end = 0;
    return write_full(out_fd, &end, sizeof end) && write_full(out_fd, &out, sizeof out) ? status : exit_unsent;
}

// Blocks SIGPIPE in this thread while it lives, so that writing to a worker that died is EPIPE, not the end of the
// caller; a SIGPIPE raised meanwhile is taken off again before it is unblocked.
class sigpipe_blocked {
public:
    sigpipe_blocked() noexcept {
        sigemptyset(&pipe_);
        sigaddset(&pipe_, SIGPIPE);
        sigset_t pending;
        sigpending(&pending);
        was_pending_ = sigismember(&pending, SIGPIPE) == 1;
        pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    }
    ~sigpipe_blocked() {
        if (!was_pending_) {
            const timespec zero{};
            while (sigtimedwait(&pipe_, nullptr, &zero) == SIGPIPE) {}
        }
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }
    sigpipe_blocked(const sigpipe_blocked&) = delete;
    sigpipe_blocked& operator=(const sigpipe_blocked&) = delete;

private:
    sigset_t pipe_{};
    sigset_t old_{};
    bool was_pending_ = false;
};

// The caller's side of moving one run's payload through a pipe per direction per worker.
template <payload_kernel K>
class payload_exchange {
public:
    using T = typename K::element;
    using R = typename K::result;
    using outcome = child_outcome<R>;

    // send_input false: the workers read the input in place (a fork's inherited copy); only outputs travel.
    payload_exchange(const K& k, std::uint64_t n, unsigned workers, bool send_input)
        : k_(k), n_(n), send_input_(send_input), channels_(workers) {
        check_payload(k, n);
    }

    // The pipes of worker i; returns the worker's ends {input to read (-1 without), output to write}. Call
    // started(i) once the worker holds them.
    struct worker_ends {
        unique_fd input;
        unique_fd output;
    };
    worker_ends open(unsigned i) {
        channel& ch = channels_[i];
        ch.range = chunk_of(n_, channels_.size(), i);
        worker_ends ends;
        if (send_input_) {
            pipe_fds in = make_pipe();
            ch.to = std::move(in.write);
            ends.input = std::move(in.read);
            nonblocking(ch.to.get());
        }
        pipe_fds out = make_pipe();
        ch.from = std::move(out.read);
        ends.output = std::move(out.write);
        nonblocking(ch.from.get());
        if (!send_input_ || ch.range.empty()) ch.to.reset();
        return ends;
    }

    // Moves every input out and every output back until each worker has sent its outcome, closed its output (it
    // died) or the deadline passed. Returns false if the deadline passed first.
    bool run(std::chrono::steady_clock::time_point deadline) {
        const sigpipe_blocked guard;
        std::vector<pollfd> polls;
        std::vector<std::pair<unsigned, bool>> who;  // worker, writing
        for (;;) {
            polls.clear();
            who.clear();
            for (unsigned i = 0; i < channels_.size(); ++i) {
                channel& ch = channels_[i];
                if (ch.to) {
                    polls.push_back({ch.to.get(), POLLOUT, 0});
                    who.emplace_back(i, true);
                }
                if (ch.from) {
                    polls.push_back({ch.from.get(), POLLIN, 0});
                    who.emplace_back(i, false);
                }
            }
            if (polls.empty()) return true;
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            const int rc =
                ::poll(polls.data(), polls.size(), static_cast<int>(std::min<long long>(left.count(), 1000)));
            if (rc < 0 && errno != EINTR) throw_errno("poll(payload)");
            for (std::size_t p = 0; rc > 0 && p < polls.size(); ++p) {
                if (polls[p].revents == 0) continue;
                channel& ch = channels_[who[p].first];
                if (who[p].second)
                    send(ch);
                else
                    receive(ch);
            }
        }
    }

    // Worker i's outcome, once run() is done: nullopt if it never came.
    [[nodiscard]] std::optional<outcome> result(unsigned i) const {
        const channel& ch = channels_[i];
        if (!ch.complete) return std::nullopt;
        return ch.told;
    }
    // How far worker i's transfer got, for the error of a worker that died: "after 65536 of 262144 input bytes
    // and 0 of 262144 output bytes".
    [[nodiscard]] std::string progress(unsigned i) const {
        const channel& ch = channels_[i];
        const std::uint64_t bytes = ch.range.size() * sizeof(T);
        std::string s = "mid-transfer, after ";
        if (send_input_) s += std::to_string(ch.sent) + " of " + std::to_string(bytes) + " input bytes and ";
        return s + std::to_string(ch.received) + " of " + std::to_string(bytes) + " output bytes";
    }
    // Whether worker i stopped before its outcome (died, or broke the protocol).
    [[nodiscard]] bool cut_short(unsigned i) const { return !channels_[i].complete; }

private:
    struct channel {
        chunk range;
        unique_fd to;                // the caller's end of the input pipe, until all is sent
        unique_fd from;              // the caller's end of the output pipe, until the outcome is in
        std::uint64_t sent = 0;      // input bytes written
        std::uint64_t received = 0;  // output bytes placed in the caller's array
        std::uint64_t frame = 0;     // bytes left in the current frame
        std::uint64_t header = 0;    // the frame header being read
        std::size_t header_got = 0;
        bool in_outcome = false;
        std::size_t outcome_got = 0;
        outcome told{};
        bool complete = false;
    };

    static void nonblocking(int fd) {
        const int flags = ::fcntl(fd, F_GETFL);
        if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) throw_errno("fcntl(O_NONBLOCK)");
    }

    void send(channel& ch) {
        const std::uint64_t bytes = ch.range.size() * sizeof(T);
        const auto* base = reinterpret_cast<const char*>(k_.input().data() + ch.range.begin);
        while (ch.sent < bytes) {
            const ssize_t w = ::write(ch.to.get(), base + ch.sent, static_cast<std::size_t>(bytes - ch.sent));
            if (w < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) return;
                ch.to.reset();  // EPIPE: the worker is gone; its output side says how it ended
                return;
            }
            ch.sent += static_cast<std::uint64_t>(w);
        }
        ch.to.reset();
    }

    // Reads what is there: frame headers, output straight into the caller's array, then the outcome.
    void receive(channel& ch) {
        for (;;) {
            void* into = nullptr;
            std::size_t want = 0;
            if (ch.in_outcome) {
                into = reinterpret_cast<char*>(&ch.told) + ch.outcome_got;
                want = sizeof(outcome) - ch.outcome_got;
            } else if (ch.frame > 0) {
                into = reinterpret_cast<char*>(k_.output().data() + ch.range.begin) + ch.received;
                want = static_cast<std::size_t>(ch.frame);
            } else {
                into = reinterpret_cast<char*>(&ch.header) + ch.header_got;
                want = sizeof ch.header - ch.header_got;
            }
            const ssize_t r = ::read(ch.from.get(), into, want);
            if (r < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN) return;
                ch.from.reset();
                return;
            }
            if (r == 0) {  // closed before its outcome: the worker died
                ch.from.reset();
                ch.to.reset();
                return;
            }
            const auto got = static_cast<std::size_t>(r);
            if (ch.in_outcome) {
                if ((ch.outcome_got += got) == sizeof(outcome)) {
                    ch.complete = true;
                    ch.from.reset();
                    ch.to.reset();
                    return;
                }
            } else if (ch.frame > 0) {
                ch.received += got;
                ch.frame -= got;
            } else if ((ch.header_got += got) == sizeof ch.header) {
                ch.header_got = 0;
                if (ch.header == 0) {
                    ch.in_outcome = true;
                } else if (ch.header > (ch.range.size() * sizeof(T) - ch.received) / sizeof(T)) {
                    ch.from.reset();  // more than its chunk: a broken worker
                    ch.to.reset();
                    return;
                } else {
                    ch.frame = ch.header * sizeof(T);
                }
            }
        }
    }

    K k_;
    std::uint64_t n_;
    bool send_input_;
    std::vector<channel> channels_;
};

}  // namespace parbench::detail

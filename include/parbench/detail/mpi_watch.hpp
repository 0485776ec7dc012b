#pragma once
// Rank 0's deadline on the mpi strategy (docs/mpi.md, "Faults"). A rank that is stopped (SIGSTOP), or whose host
// is cut off while its connections stay open, never answers, and MPI's blocking calls would wait for it forever:
// Open MPI notices a rank that dies, or a daemon whose connection breaks, but not a rank that merely stops. A
// watchdog thread ends the job instead when one step (a run, or opening or closing a session) has taken longer
// than the deadline: a fixed time, or one that grows with the runs, the larger of a floor and 10 times the slowest
// run so far, at most a day (opening a session, which makes a window, can take much longer than a run on a loaded
// machine, so it does not count). A fixed deadline bounds the time to notice a stopped rank however slow the runs
// are (a sanitized build's are several times slower). It prints one line naming the ranks it waited on and ends
// rank 0 with status 4; mpirun then ends every other rank.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>

namespace parbench::detail::mpi {

class run_watch {
public:
    static constexpr int exit_status = 4;

    run_watch() = default;
    run_watch(const run_watch&) = delete;
    run_watch& operator=(const run_watch&) = delete;
    ~run_watch() { stop(); }

    static constexpr std::int64_t scale = 10;
    static constexpr std::int64_t most_ns = 86400LL * 1000000000LL;

    // Starts the watchdog with a deadline of `seconds` (0: none, the watchdog stops), or with `grows`, of
    // max(seconds, scale x the slowest run so far), at most a day. Rank 0 only.
    void start(double seconds, bool grows) {
        stop();
        if (!(seconds > 0)) return;
        floor_ns_ = seconds < 86400 ? static_cast<std::int64_t>(seconds * 1e9) : most_ns;
        grows_ = grows;
        stopping_ = false;
        active_.store(true, std::memory_order_release);
        thread_ = std::thread([this] { watch(); });
    }
    void stop() {
        active_.store(false, std::memory_order_release);
        if (!thread_.joinable()) return;
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        wake_.notify_all();
        thread_.join();
    }

    // A step with W ranks begins, and ends; a run's time counts towards the deadline.
    void begin(int workers) noexcept {
        if (workers < 2 || !active_.load(std::memory_order_relaxed)) return;
        workers_.store(workers, std::memory_order_relaxed);
        started_.store(now_ns(), std::memory_order_release);
    }
    void end(bool is_run) noexcept {
        const std::int64_t started = started_.exchange(0, std::memory_order_acq_rel);
        if (started == 0 || !is_run) return;
        const std::int64_t took = now_ns() - started;
        if (took > slowest_.load(std::memory_order_relaxed)) slowest_.store(took, std::memory_order_relaxed);
    }

private:
    static std::int64_t now_ns() noexcept {
        return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    }
    std::int64_t deadline_ns() const noexcept {
        if (!grows_) return floor_ns_;
        const std::int64_t slowest = slowest_.load(std::memory_order_relaxed);
        const std::int64_t scaled = slowest < most_ns / scale ? scale * slowest : most_ns;
        return scaled > floor_ns_ ? scaled : floor_ns_;
    }

    void watch() {
        std::unique_lock lock(mutex_);
        while (!wake_.wait_for(lock, std::chrono::milliseconds(100), [this] { return stopping_; })) {
            const std::int64_t started = started_.load(std::memory_order_acquire);
            if (started == 0 || now_ns() - started <= deadline_ns()) continue;
            const int w = workers_.load(std::memory_order_relaxed);
            const double seconds = static_cast<double>(deadline_ns()) / 1e9;
            if (w == 2)
                std::fprintf(stderr, "parbench mpi: no answer from rank 1 of workers:2 within %g s", seconds);
            else
                std::fprintf(stderr, "parbench mpi: no answer from ranks 1..%d of workers:%d within %g s", w - 1, w,
                             seconds);
            std::fprintf(stderr, " (a rank stopped, or its host cut off); ending the job\n");
            std::fflush(stderr);
            std::_Exit(exit_status);  // MPI cannot be called here: the main thread is inside MPI
        }
    }

    std::atomic<bool> active_{false};
    std::atomic<int> workers_{0};
    std::atomic<std::int64_t> started_{0};  // steady clock at the step's start; 0: none in flight
    std::atomic<std::int64_t> slowest_{0};
    std::int64_t floor_ns_ = 0;
    bool grows_ = false;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    std::thread thread_;
};

[[nodiscard]] inline run_watch& watch() {
    static run_watch w;
    return w;
}

}  // namespace parbench::detail::mpi

#pragma once
// The errors a strategy raises: worker_error for a worker that failed, std::invalid_argument for bad input.

#include <exception>
#include <stdexcept>
#include <string>

namespace parbench {

// The most workers a strategy accepts: room for 10,000 tasks in flight and more (event_loop, threads with one
// thread per task), low enough to stop a typo (or -1 cast to unsigned) from starting four billion threads. What
// the machine allows below it (threads, processes, descriptors) is the strategy's named error when it runs out.
inline constexpr unsigned max_workers = 65536;

// Why a worker failed.
enum class failure {
    exception,  // the kernel threw; what() carries its message
    exit_code,  // a worker process exited with a non-zero status (detail = status)
    signal,     // a worker process was killed by a signal (detail = signal number)
    timeout,    // a worker did not finish before the deadline (detail = deadline in ms)
    lost,       // a worker vanished without a status (e.g. its channel closed early)
    start,      // a worker's thread could not be started (detail = errno, e.g. EAGAIN; thread_start.hpp)
};

[[nodiscard]] constexpr const char* to_string(failure f) noexcept {
    switch (f) {
        case failure::exception: return "exception";
        case failure::exit_code: return "exit code";
        case failure::signal: return "signal";
        case failure::timeout: return "timeout";
        case failure::lost: return "lost";
        case failure::start: return "start";
    }
    return "unknown";
}

// A worker failed. The message names the worker, the cause and the detail, e.g.
// "worker 3 of 4 failed: exception: boom" or "worker 1 of 2 failed: signal: 9 (Killed)".
class worker_error : public std::runtime_error {
public:
    worker_error(unsigned worker, unsigned workers, failure cause, const std::string& what, int detail = 0)
        : std::runtime_error("worker " + std::to_string(worker) + " of " + std::to_string(workers) +
                             " failed: " + to_string(cause) + ": " + what),
          worker_(worker),
          workers_(workers),
          cause_(cause),
          detail_(detail) {}

    [[nodiscard]] unsigned worker() const noexcept { return worker_; }
    [[nodiscard]] unsigned workers() const noexcept { return workers_; }
    [[nodiscard]] failure cause() const noexcept { return cause_; }
    // The exit status, signal number, deadline in milliseconds or errno (start); 0 for exceptions.
    [[nodiscard]] int detail() const noexcept { return detail_; }

private:
    unsigned worker_;
    unsigned workers_;
    failure cause_;
    int detail_;
};

namespace detail {

inline void check_workers(unsigned workers) {
    if (workers == 0 || workers > max_workers)
        throw std::invalid_argument("parbench: workers must be between 1 and " + std::to_string(max_workers) +
                                    ", got " + std::to_string(workers));
}

// The message of the exception being handled, or "unknown exception"; call only inside a catch block. Never throws.
[[nodiscard]] inline const char* current_exception_message() noexcept {
    try {
        throw;
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "unknown exception";
    }
}

// The message of an exception_ptr, for carrying a worker's failure to its caller.
[[nodiscard]] inline std::string describe(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (...) {
        return current_exception_message();
    }
}

}  // namespace detail
}  // namespace parbench

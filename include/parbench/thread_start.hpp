#pragma once
// Starting a strategy's worker thread, written once for every strategy that starts threads, the library's and
// yours (docs/extending.md). When the thread cannot be started (std::thread throws std::system_error:
// pthread_create failed, EAGAIN when the process is out of threads or of memory for the thread's stack), the
// caller gets a worker_error that names the strategy, the worker and the cause, e.g.
//   "worker 3 of 8 failed: start: threads: could not start its thread: Resource temporarily unavailable"
// with cause() failure::start and detail() the errno, instead of a bare "Resource temporarily unavailable".
// Stopping and joining the workers already started stays with the strategy (its vector of jthreads, or its
// pool's stop()), which must do it before the error leaves it.

#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "error.hpp"

namespace parbench {

// The error of worker `worker` of `workers` of `strategy`, whose thread could not be started because of `cause`.
[[nodiscard]] inline worker_error start_error(std::string_view strategy, unsigned worker, unsigned workers,
                                              const std::error_code& cause) {
    return {worker, workers, failure::start, std::string(strategy) + ": could not start its thread: " + cause.message(),
            cause.value()};
}

// Thread(fn) (std::thread or std::jthread) as worker `worker` of `workers` of `strategy`, or start_error.
template <class Thread, class F>
[[nodiscard]] Thread start_thread(std::string_view strategy, unsigned worker, unsigned workers, F&& fn) {
    try {
        return Thread(std::forward<F>(fn));
    } catch (const std::system_error& e) {
        throw start_error(strategy, worker, workers, e.code());
    }
}

}  // namespace parbench

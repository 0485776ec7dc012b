#pragma once
// processes.spawn: each run starts one fresh copy of the program per chunk, like multiprocessing's "spawn" start
// method: posix_spawn of the program itself in its hidden worker mode; the request travels through a pipe, the
// shared state (if any) through an inherited memfd, the result back through a pipe. A program that uses it calls
// parbench::worker_main first in main (parbench/worker_main.hpp). Faults become worker_errors as in processes.*.

#include <chrono>
#include <string_view>

#include "../detail/child.hpp"
#include "../detail/spawn.hpp"
#include "../detail/start_per_run.hpp"

namespace parbench::detail {

// Starts each worker with spawn_self; they are this process's children.
class spawn_launcher {
public:
    static constexpr std::string_view name = "processes.spawn";

    struct context {};  // nothing outlives a run
    static context make_context(std::chrono::milliseconds /*deadline*/) noexcept { return {}; }

    spawn_launcher(context, unsigned, std::chrono::steady_clock::time_point) {}

    void start(unsigned, const worker_request& r, int result_fd, int state_fd) {
        pipe_fds request = make_pipe();
        if (!write_full(request.write.get(), &r, sizeof r)) throw_errno("write(request)");  // fits the pipe
        request.write.reset();
        children_.adopt(spawn_self("spawn", {request.read.get(), result_fd, state_fd}));
    }

    std::optional<child_group::ended> wait_all(std::chrono::steady_clock::time_point deadline) {
        return children_.wait_all(
            std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero()));
    }

private:
    child_group children_;
};

}  // namespace parbench::detail

namespace parbench::strategies {

struct processes_spawn : detail::start_per_run<detail::spawn_launcher> {
    using start_per_run::start_per_run;
};

}  // namespace parbench::strategies

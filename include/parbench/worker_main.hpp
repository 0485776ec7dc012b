#pragma once
// worker_main: the hidden worker mode of a program that uses processes.spawn or processes.forkserver (or a
// process pool started by either). Those strategies start the program itself afresh (as Python's spawn and forkserver
// start methods start a new interpreter and re-import __main__), so its main must hand such a process over before doing
// anything else:
//
//   int main(int argc, char** argv) {
//       parbench::worker_main(argc, argv);  // returns at once unless this process is a started worker
//       ...
//   }

#include <atomic>
#include <cstdlib>
#include <string_view>

#include "detail/child.hpp"
#include "detail/forkserver.hpp"
#include "detail/pool_block.hpp"
#include "detail/spawn.hpp"
#include "detail/worker_request.hpp"

namespace parbench {

// In a process that processes.spawn or processes.forkserver started, does the worker's (or the fork server's) job
// and ends the process; otherwise returns at once, having noted that this program serves the workers it starts
// (without that, both strategies refuse to run).
inline void worker_main(int argc, char** argv) noexcept {
    detail::worker_main_ran.store(true, std::memory_order_relaxed);
    if (argc < 3) return;
    const std::string_view mode = argv[1];
    if (mode != "--parbench_worker=spawn" && mode != "--parbench_worker=forkserver" && mode != "--parbench_worker=pool")
        return;
    // A worker, or a fork server, dies with the thread that started it.
    const auto parent = static_cast<pid_t>(std::strtol(argv[2], nullptr, 10));
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) detail::leave(detail::exit_orphaned);
    if (mode == "--parbench_worker=forkserver") detail::forkserver_main(3);
    // A process pool's worker: its control block at 3, its number after the parent's pid.
    if (mode == "--parbench_worker=pool")
        detail::leave(argc < 4
                          ? detail::exit_unsent
                          : detail::serve_pool_worker(3, static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10))));
    detail::worker_request r;
    if (detail::read_full(3, &r, sizeof r) != static_cast<ssize_t>(sizeof r)) detail::leave(detail::exit_unsent);
    detail::leave(detail::serve_request(r, 4, 5));
}

}  // namespace parbench

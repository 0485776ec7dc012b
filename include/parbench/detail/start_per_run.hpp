#pragma once
// One started worker process per chunk per run, for the start methods that do not fork the caller (spawn,
// forkserver). A Launcher, built per run from the strategy's Launcher::context (what outlives a run: the fork
// server's handle, made by Launcher::make_context(deadline), which waits at most the worker deadline), starts worker i
// on a worker_request with its result pipe and state descriptor, and waits for them all; this runs the chunks, turns
// failures into worker_errors and combines the results.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "../strategies/processes.hpp"  // per_run_processes
#include "../strategy.hpp"
#include "child.hpp"
#include "fd.hpp"
#include "fork_join.hpp"
#include "payload_io.hpp"
#include "spawn.hpp"
#include "worker_request.hpp"

namespace parbench::detail {

template <class Launcher>
class start_per_run : public per_run_processes {
public:
    static constexpr std::string_view name = Launcher::name;

    // The worker count is checked (worker_count) before the context is made.
    explicit start_per_run(unsigned workers, std::chrono::milliseconds deadline = default_deadline)
        : per_run_processes(workers, deadline), context_(Launcher::make_context(deadline)) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        using result = typename K::result;
        check_can_start_self(name);
        if constexpr (payload_kernel<K>) return run_payload(k, n);
        started_state<K> shared;
        std::vector<unique_fd> results;
        results.reserve(workers_);
        const auto deadline = std::chrono::steady_clock::now() + deadline_;
        Launcher launcher(context_, workers_, deadline);
        for (unsigned i = 0; i < workers_; ++i) {
            pipe_fds pipe = make_pipe();
            launcher.start(i, make_request(k, chunk_of(n, workers_, i), i), pipe.write.get(), shared.fd());
            results.push_back(std::move(pipe.read));
        }
        const auto bad = launcher.wait_all(deadline);
        if (bad && bad->status >= 0 && WIFEXITED(bad->status) && WEXITSTATUS(bad->status) == exit_unregistered)
            throw worker_error(static_cast<unsigned>(bad->index), workers_, failure::lost,
                               "the worker's program does not serve this kernel (does its main call "
                               "parbench::worker_main first?)");
        return end_run(k, shared.get(), bad, [&](unsigned i) -> std::optional<child_outcome<result>> {
            child_outcome<result> out;
            if (read_full(results[i].get(), &out, sizeof out) != static_cast<ssize_t>(sizeof out)) return std::nullopt;
            return out;
        });
    }

private:
    // A payload kernel's run: the workers inherit nothing, so each gets its chunk's input through a pipe (in the
    // state descriptor's place) and sends its output back through its result pipe (payload_io.hpp).
    template <payload_kernel K>
    typename K::result run_payload(const K& k, std::uint64_t n) const {
        const auto deadline = std::chrono::steady_clock::now() + deadline_;
        payload_exchange<K> exchange(k, n, workers_, true);
        Launcher launcher(context_, workers_, deadline);
        for (unsigned i = 0; i < workers_; ++i) {
            const auto ends = exchange.open(i);
            launcher.start(i, make_request(k, chunk_of(n, workers_, i), i), ends.output.get(),
                           ends.input ? ends.input.get() : -1);
        }
        exchange.run(deadline);
        const auto bad = launcher.wait_all(deadline);
        if (bad && bad->status >= 0 && WIFEXITED(bad->status) && WEXITSTATUS(bad->status) == exit_unregistered)
            throw worker_error(static_cast<unsigned>(bad->index), workers_, failure::lost,
                               "the worker's program does not serve this kernel (does its main call "
                               "parbench::worker_main first?)");
        if (bad && bad->status > 0 && exchange.cut_short(static_cast<unsigned>(bad->index)))
            throw died_mid_transfer(static_cast<unsigned>(bad->index), workers_, bad->status,
                                    exchange.progress(static_cast<unsigned>(bad->index)));
        no_state none;
        return end_run(k, none, bad, [&](unsigned i) { return exchange.result(i); });
    }

    typename Launcher::context context_;
};

}  // namespace parbench::detail

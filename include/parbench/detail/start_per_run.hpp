#pragma once
// One started worker process per chunk per run, for the start methods that do not fork the caller (spawn,
// forkserver). A Launcher starts worker i on a worker_request with its result pipe and state descriptor, and
// waits for them all; this runs the chunks, turns failures into worker_errors and combines the results.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../error.hpp"
#include "child.hpp"
#include "fd.hpp"
#include "fork_join.hpp"
#include "spawn.hpp"
#include "worker_request.hpp"

namespace parbench::detail {

template <class Launcher>
class start_per_run {
public:
    static constexpr std::string_view name = Launcher::name;
    static constexpr bool sweeps_workers = true;

    explicit start_per_run(unsigned workers, std::chrono::milliseconds deadline = default_deadline)
        : workers_(workers), deadline_(deadline) {
        check_workers(workers);
    }

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        using result = typename K::result;
        refuse_in_worker(name);
        started_state<K> shared;
        std::vector<unique_fd> results;
        results.reserve(workers_);
        const auto deadline = std::chrono::steady_clock::now() + deadline_;
        Launcher launcher(workers_, deadline);
        for (unsigned i = 0; i < workers_; ++i) {
            pipe_fds pipe = make_pipe();
            launcher.start(i, make_request(k, chunk_of(n, workers_, i), i), pipe.write.get(), shared.fd());
            results.push_back(std::move(pipe.read));
        }
        const auto receive = [&](unsigned i) -> std::optional<child_outcome<result>> {
            child_outcome<result> out;
            if (read_full(results[i].get(), &out, sizeof out) != static_cast<ssize_t>(sizeof out)) return std::nullopt;
            return out;
        };
        if (const auto bad = launcher.wait_all(deadline)) {
            const auto i = static_cast<unsigned>(bad->index);
            if (bad->status < 0) throw timeout_error(i, workers_, deadline_);
            if (WIFEXITED(bad->status) && WEXITSTATUS(bad->status) == exit_unregistered)
                throw worker_error(i, workers_, failure::lost,
                                   "the worker's program does not serve this kernel (does its main call "
                                   "parbench::worker_main first?)");
            const auto out = receive(i);
            throw child_failure(i, workers_, bad->status, out ? &*out : nullptr);
        }
        std::optional<result> total;
        for (unsigned i = 0; i < workers_; ++i) {
            const auto out = receive(i);
            if (!out) throw worker_error(i, workers_, failure::lost, "exited without sending a result");
            total = total ? K::combine(*total, out->value) : out->value;
        }
        return finish(k, shared.get(), *total);
    }

    [[nodiscard]] unsigned workers() const noexcept { return workers_; }

private:
    unsigned workers_;
    std::chrono::milliseconds deadline_;
};

}  // namespace parbench::detail

#pragma once
// processes.pipe and processes.shm: each run forks one worker process per chunk, like multiprocessing.Process.
// A worker sends its result back through a pipe (pipe, like multiprocessing.Queue) or writes it to its slot in a
// MAP_SHARED mapping (shm, like multiprocessing.Value); the parent combines. A kernel with shared state gets it
// in a MAP_SHARED mapping. A payload kernel's data (payload.hpp) travels the same way: through a pipe each way
// (pipe), or copied into a MAP_SHARED mapping and back out of it (shm), and the workers do not inherit the caller's
// arrays (kept_from_children). processes.cow is processes.pipe whose workers read the input they inherited from the
// fork, copy-on-write, in place: only the output travels. A worker that throws, exits non-zero, dies of a signal or
// outlives the deadline becomes a worker_error; the other workers are then killed and every child is reaped before
// run() returns.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "../detail/child.hpp"
#include "../detail/fd.hpp"
#include "../detail/payload_io.hpp"
#include "../detail/shm.hpp"
#include "../payload.hpp"
#include "../strategy.hpp"

namespace parbench::detail {

// What a worker process sends back: its result or the message of the exception its kernel threw. Plain bytes,
// so it crosses a pipe or lives in shared memory as is.
template <class R>
struct child_outcome {
    R value{};
    std::uint32_t threw = 0;
    char message[244] = {};

    void set_error(const char* what) noexcept {
        threw = 1;
        std::strncpy(message, what, sizeof message - 1);
    }
};

// Runs chunk i of kernel k in a worker process and fills `out`. Returns the worker's exit status.
template <kernel K>
int run_in_child(const K& k, chunk c, state_t<K>& state, child_outcome<typename K::result>& out) noexcept {
    try {
        out.value = run_chunk(k, c, state);
        return 0;
    } catch (...) {
        out.set_error(current_exception_message());
        return exit_uncaught;
    }
}

// The worker_error for worker i that ended with `status`; a worker whose kernel threw (exit_uncaught with a
// message) is an exception, with the kernel's message.
template <class R>
worker_error child_failure(unsigned i, unsigned workers, int status, const child_outcome<R>* outcome) {
    if (outcome != nullptr && outcome->threw != 0 && WIFEXITED(status) && WEXITSTATUS(status) == exit_uncaught)
        return {i, workers, failure::exception,
                std::string(outcome->message, strnlen(outcome->message, sizeof outcome->message))};
    return status_error(i, workers, status);
}

// How a fork-per-run strategy moves a payload kernel's data: a pipe each way; a MAP_SHARED mapping the caller
// copies the input into and the output out of; or the input inherited by the fork, the output through a pipe.
enum class payload_path { pipes, shared_mapping, inherited_input };

// The worker_error for worker i that ended with `status` before its payload had all travelled: "worker 1 of 2
// failed: signal: 9 (Killed) mid-transfer, after 65536 of 262144 output bytes".
inline worker_error died_mid_transfer(unsigned i, unsigned workers, int status, const std::string& progress) {
    const worker_error plain = status_error(i, workers, status);
    const std::string what = plain.what();
    const std::string prefix = "worker " + std::to_string(i) + " of " + std::to_string(workers) +
                               " failed: " + to_string(plain.cause()) + ": ";
    return {i, workers, plain.cause(), what.substr(prefix.size()) + " " + progress, plain.detail()};
}

// Transport: results through one pipe per worker.
struct pipe_results {
    static constexpr std::string_view name = "processes.pipe";
    static constexpr payload_path moves = payload_path::pipes;

    template <class R>
    class channel {
        static_assert(sizeof(child_outcome<R>) <= 4096, "an outcome must fit PIPE_BUF, so its write is atomic");

    public:
        explicit channel(unsigned workers) { reads_.reserve(workers); }
        // Called in the parent before forking worker i; the pipe's write end is then the worker's alone.
        void before_fork(unsigned) { pending_ = make_pipe(); }
        void after_fork(unsigned) {
            pending_.write.reset();
            reads_.push_back(std::move(pending_.read));
        }
        // In worker i: sends the outcome. A short or failed write shows as a lost worker in the parent.
        int send(unsigned, const child_outcome<R>& out, int status) noexcept {
            return write_full(pending_.write.get(), &out, sizeof out) ? status : exit_unsent;
        }
        // In the parent, once worker i has exited: its outcome, or nullopt if it sent none.
        std::optional<child_outcome<R>> receive(unsigned i) {
            child_outcome<R> out;
            if (read_full(reads_[i].get(), &out, sizeof out) != static_cast<ssize_t>(sizeof out)) return std::nullopt;
            return out;
        }

    private:
        pipe_fds pending_;
        std::vector<unique_fd> reads_;
    };
};

// Transport: results in one slot per worker of a MAP_SHARED mapping.
struct shm_results {
    static constexpr std::string_view name = "processes.shm";
    static constexpr payload_path moves = payload_path::shared_mapping;

    template <class R>
    class channel {
        using slot = padded<child_outcome<R>>;

    public:
        explicit channel(unsigned workers) : map_(sizeof(slot) * workers) {
            for (unsigned i = 0; i < workers; ++i) ::new (slots() + i) slot();
        }
        void before_fork(unsigned) {}
        void after_fork(unsigned) {}
        int send(unsigned i, const child_outcome<R>& out, int status) noexcept {
            slots()[i].value = out;
            return status;
        }
        // waitpid orders the worker's writes before this read.
        std::optional<child_outcome<R>> receive(unsigned i) { return slots()[i].value; }

    private:
        slot* slots() const noexcept { return static_cast<slot*>(map_.data()); }
        shared_mapping map_;
    };
};

// processes.cow: processes.pipe, but a payload kernel's workers read their input in place, from the memory their
// fork inherited (copy-on-write, never written), and only the output travels back through the pipe.
struct cow_results : pipe_results {
    static constexpr std::string_view name = "processes.cow";
    static constexpr payload_path moves = payload_path::inherited_input;
};

// Kernel K's shared state where worker processes see it: a MAP_SHARED mapping, or nothing for a plain kernel.
template <kernel K>
struct process_state {
    shared_object<state_t<K>> shared;
    state_t<K>& get() noexcept { return *shared; }
};
template <kernel K>
requires(!stateful_kernel<K>) struct process_state<K> {
    no_state none;
    no_state& get() noexcept { return none; }
};

// What the strategies that start W worker processes per run share (fork_per_run here, start_per_run for the
// spawn and forkserver start methods): the worker count, the deadline, and how a run ends.
class per_run_processes : public worker_count {
public:
    static constexpr bool sweeps_workers = true;

protected:
    per_run_processes(unsigned workers, std::chrono::milliseconds deadline)
        : worker_count(workers), deadline_(deadline) {}

    // The end of a run: the error of the failed worker `bad` names (a status < 0: the deadline passed), else
    // every worker's outcome (receive(i): nullopt if none came) combined and finished.
    template <kernel K, class Receive>
    typename K::result end_run(const K& k, state_t<K>& state, const std::optional<child_group::ended>& bad,
                               Receive receive) const {
        if (bad) {
            const auto i = static_cast<unsigned>(bad->index);
            if (bad->status < 0) throw hung_error(i, workers_, deadline_, bad->process);
            const auto out = receive(i);
            throw child_failure(i, workers_, bad->status, out ? &*out : nullptr);
        }
        std::optional<typename K::result> total;
        for (unsigned i = 0; i < workers_; ++i) {
            const auto out = receive(i);
            if (!out) throw worker_error(i, workers_, failure::lost, "exited without sending a result");
            total = total ? K::combine(*total, out->value) : out->value;
        }
        return finish(k, state, *total);
    }

    std::chrono::milliseconds deadline_;
};

// One fork per worker per run; Transport carries the results back.
template <class Transport>
class fork_per_run : public per_run_processes {
public:
    static constexpr std::string_view name = Transport::name;
    // Every run forks the calling process, so a run costs more the more memory the caller has mapped (a harness
    // may hold the caller at a fixed size while it times such a strategy: bench_parallel's fork_parent).
    static constexpr bool forks_caller = true;

    explicit fork_per_run(unsigned workers, std::chrono::milliseconds deadline = default_deadline)
        : per_run_processes(workers, deadline) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        using result = typename K::result;
        if constexpr (payload_kernel<K>) {
            // The workers get the caller's data through the transport, so the caller's arrays are kept out of
            // their address space (all but the input processes.cow's workers read in place): the caller writes its
            // output while they live, which would otherwise copy each page on write, and the forks copy no page
            // table entries for either array.
            const kept_from_children output(k.output().data(), k.output().size_bytes());
            std::optional<kept_from_children> input;
            if constexpr (Transport::moves != payload_path::inherited_input)
                input.emplace(k.input().data(), k.input().size_bytes());
            if constexpr (Transport::moves == payload_path::shared_mapping)
                return run_through_mapping(k, n);
            else
                return run_through_pipes(k, n);
        }
        typename Transport::template channel<result> channel(workers_);
        process_state<K> shared;
        state_t<K>& state = shared.get();

        child_group children;
        for (unsigned i = 0; i < workers_; ++i) {
            channel.before_fork(i);
            children.fork([&, i] {
                child_outcome<result> out;
                const int status = run_in_child(k, chunk_of(n, workers_, i), state, out);
                return channel.send(i, out, status);
            });
            channel.after_fork(i);
        }
        return end_run(k, state, children.wait_all(deadline_), [&](unsigned i) { return channel.receive(i); });
    }

private:
    // A payload kernel's run with its data through pipes (processes.pipe), or its output only (processes.cow).
    template <payload_kernel K>
    typename K::result run_through_pipes(const K& k, std::uint64_t n) const {
        const auto deadline = std::chrono::steady_clock::now() + deadline_;
        payload_exchange<K> exchange(k, n, workers_, Transport::moves == payload_path::pipes);
        child_group children;
        for (unsigned i = 0; i < workers_; ++i) {
            const auto ends = exchange.open(i);  // the worker's ends, closed here once it has them
            children.fork([&, i] {
                return stream_chunk(k, chunk_of(n, workers_, i), ends.input ? ends.input.get() : -1, ends.output.get());
            });
        }
        exchange.run(deadline);
        const auto bad = children.wait_all(
            std::max(deadline - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero()));
        no_state none;
        if (bad && bad->status > 0 && exchange.cut_short(static_cast<unsigned>(bad->index)))
            throw died_mid_transfer(static_cast<unsigned>(bad->index), workers_, bad->status,
                                    exchange.progress(static_cast<unsigned>(bad->index)));
        return end_run(k, none, bad, [&](unsigned i) { return exchange.result(i); });
    }

    // A payload kernel's run with its data copied into a MAP_SHARED mapping before the forks and back out of it
    // after them (processes.shm).
    template <payload_kernel K>
    typename K::result run_through_mapping(const K& k, std::uint64_t n) const {
        using T = typename K::element;
        using result = typename K::result;
        check_payload(k, n);
        const auto bytes = static_cast<std::size_t>(n) * sizeof(T);
        const shared_mapping data(2 * bytes + 1);
        T* in = static_cast<T*>(data.data());
        T* out = in + n;
        if (bytes != 0) std::memcpy(in, k.input().data(), bytes);
        typename Transport::template channel<result> channel(workers_);
        child_group children;
        for (unsigned i = 0; i < workers_; ++i)
            children.fork([&, i] {
                child_outcome<result> told;
                int status = 0;
                try {
                    const chunk c = chunk_of(n, workers_, i);
                    told.value =
                        k.run(c, std::span<const T>(in + c.begin, c.size()), std::span<T>(out + c.begin, c.size()));
                } catch (...) {
                    told.set_error(current_exception_message());
                    status = exit_uncaught;
                }
                return channel.send(i, told, status);
            });
        const auto bad = children.wait_all(deadline_);
        if (!bad && bytes != 0) std::memcpy(k.output().data(), out, bytes);
        no_state none;
        return end_run(k, none, bad, [&](unsigned i) { return channel.receive(i); });
    }
};

}  // namespace parbench::detail

namespace parbench {

// The base of a strategy that starts its W worker processes on every run (processes.pipe, .shm, .spawn,
// .forkserver): the worker count, the deadline and end_run. bench_parallel's default profile measures a strategy
// derived from it only at a kernel's smallest n and its two largest (docs/extending.md).
using per_run_processes = detail::per_run_processes;

}  // namespace parbench

namespace parbench::strategies {

struct processes_pipe : detail::fork_per_run<detail::pipe_results> {
    using fork_per_run::fork_per_run;
};
struct processes_shm : detail::fork_per_run<detail::shm_results> {
    using fork_per_run::fork_per_run;
};
// processes.pipe, but a payload kernel's input is inherited by the fork rather than sent (the zero-copy path of
// multiprocessing's fork start method: a global the workers read); other kernels run as under processes.pipe.
struct processes_cow : detail::fork_per_run<detail::cow_results> {
    using fork_per_run::fork_per_run;
};

}  // namespace parbench::strategies

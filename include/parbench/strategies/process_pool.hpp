#pragma once
// process_pool: worker processes forked once, when the pool is built, and reused across runs. A run copies the
// kernel into a MAP_SHARED control block and wakes the workers; each runs its chunk and writes its result back
// into its own slot there (detail/pool_block.hpp).
//
// Two variants, one class (the caller's part is a compile-time option):
// - process_pool: W workers are W-1 forked processes plus the calling process, which runs chunk 0 while they run
//   theirs, as thread_pool, OpenMP and TBB do. W workers then need W CPUs, not W+1, so on a machine with W CPUs
//   the pool can still spin, and a fork-join costs what a cache line crossing between processes costs.
// - process_pool.executor: W forked processes and a caller that only waits, the shape of Python's
//   ProcessPoolExecutor(W); every chunk runs in a child, so every chunk is isolated and has a deadline.
// Each on three start methods (detail/pool_start.hpp), which differ only in how a worker process starts:
// process_pool[.executor] forks the caller; process_pool[.executor].spawn starts this program afresh in its
// "pool" worker mode (as processes.spawn does), process_pool[.executor].forkserver has the fork server fork
// them (as processes.forkserver does). Those two map the control block through a memfd and find the kernel's
// code by its type's name, so their programs call parbench::worker_main first in main.
// process_pool.dynamic (.coarse, .fine) is process_pool with dynamic scheduling, as thread_pool.dynamic is
// thread_pool's: [0, n) is cut into 16 (4, 128) chunks per worker and every worker, the caller included, takes the
// next from a counter in the control block until none is left (Python's Pool.map(chunksize=); its default
// chunksize, n / (4 W), is .coarse's).
// A chunk that the caller runs is not isolated: if it crashes, the caller crashes, as with threads; it throws,
// and that is worker 0's error.
//
// A payload kernel's data (payload.hpp) is shipped with each task, as a Python pool pickles it: the caller copies
// the input of the workers' chunks into a data area the workers map (pool_transport.hpp), and their output back
// out of it.
//
// Faults: a kernel that throws is a worker_error (exception) and the pool goes on as is. A worker that dies or
// outlives the deadline is a worker_error too (signal, exit code, timeout); all workers are then killed and
// reaped, and fresh ones are started for the next run. Workers get SIGKILL when the thread that built the pool
// (forkserver: the thread that started the server) exits (PR_SET_PDEATHSIG), so build the pool on a thread that
// outlives it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <typeinfo>

#include "../detail/child.hpp"
#include "../detail/dynamic_job.hpp"
#include "../detail/hung.hpp"
#include "../detail/pool_start.hpp"
#include "../detail/pool_transport.hpp"
#include "../payload.hpp"
#include "../strategy.hpp"

namespace parbench::strategies {

// What the caller of run() does while the workers run: runs a share, chunk 0 (process_pool), or only waits
// (process_pool.executor).
enum class caller_role { runs_a_share, waits };

// How a pool cuts [0, n): W chunks, worker i's the i-th (static_chunks), or PerWorker chunks per worker handed
// out as workers free up (dynamic_chunks_of, under its own name).
struct static_chunks {
    static constexpr unsigned chunks_per_worker = 0;
};
template <unsigned PerWorker, const std::string_view& Name>
struct dynamic_chunks_of {
    static_assert(PerWorker > 0);
    static constexpr unsigned chunks_per_worker = PerWorker;
    static constexpr std::string_view name = Name;
};

// The two pools differ only in the caller's role, and each start method only in how its workers start (see the
// top of this file); Schedule is static_chunks or a dynamic_chunks_of.
template <caller_role Caller, class Starter = detail::fork_start, class Schedule = static_chunks>
class basic_process_pool : public worker_count {
    static constexpr bool dynamic = Schedule::chunks_per_worker > 0;
    static constexpr std::string_view default_name =
        Caller == caller_role::runs_a_share ? Starter::pool_name : Starter::executor_name;

public:
    static constexpr std::string_view name = [] {
        if constexpr (dynamic)
            return Schedule::name;
        else
            return default_name;
    }();
    static constexpr bool sweeps_workers = true;
    static constexpr bool schedules_dynamically = dynamic;
    // How the workers start: "fork", "spawn" or "forkserver".
    static constexpr std::string_view start_method = Starter::start_method;

    explicit basic_process_pool(unsigned workers, std::chrono::milliseconds deadline = detail::default_deadline)
        : worker_count(workers), deadline_(deadline), transport_(workers, in_parent) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        using R = typename K::result;
        using T = detail::pool_transport<Starter>;
        static_assert(portable_kernel<K>,
                      "process_pool copies the kernel, its result and its shared state into "
                      "fixed slots: see parbench::portable_kernel's limits");
        const std::string_view key = typeid(K).name();
        if constexpr (!T::forked) {
            (void)detail::pool_kernel_registered<K>;  // the workers find invoke_chunk<K> under K's name
            if (key.size() >= T::key_capacity)
                throw std::invalid_argument("parbench: kernel type name too long to send to a pool worker: " +
                                            std::string(key));
        }
        std::lock_guard lock(run_mutex_);
        if (broken_) {
            transport_.start();
            broken_ = false;
        }
        ::new (transport_.kernel()) K(k);
        auto* state = ::new (transport_.state()) detail::state_t<K>();
        struct destroy_state {
            detail::state_t<K>* s;
            ~destroy_state() { std::destroy_at(s); }
        } guard{state};

        // A payload kernel's data is shipped with the task: the input of every chunk a worker may run is copied
        // into the data area, and its output copied back out once all are done. The caller's own chunk runs in
        // place under static chunking; under dynamic scheduling its chunks are any, so it uses the data area too.
        [[maybe_unused]] void* data = nullptr;
        if constexpr (payload_kernel<K>) {
            detail::check_payload(k, n);
            data = ship_input(k, n);
        }
        const std::uint64_t chunks = dynamic ? detail::dynamic_chunks(n, workers_, Schedule::chunks_per_worker) : 0;
        transport_.dispatch(&detail::invoke_chunk<K>, key, n, chunks);
        // The caller's own share, run while the children run theirs; its result lives here, not in the block.
        alignas(R) std::byte own[sizeof(R)];
        char own_message[T::message_capacity];
        bool own_ok = true;
        bool own_ran = false;
        if constexpr (Caller == caller_role::runs_a_share)
            own_ok = transport_.run_in_parent(0, own, own_ran, own_message, dynamic ? data : nullptr);
        if (const auto bad = transport_.wait(deadline_)) {
            // What a hung worker was doing, read before the kill.
            const std::string hung = bad->status < 0 && bad->lost.empty()
                                         ? detail::describe_process(transport_.pid(bad->worker))
                                         : std::string();
            transport_.kill();  // before the state goes: a stuck worker may still hold it
            broken_ = true;     // fresh workers are started before the next run
            if (!bad->lost.empty()) throw worker_error(bad->worker, workers_, failure::lost, bad->lost);
            if (bad->status < 0) throw detail::hung_error(bad->worker, workers_, deadline_, hung);
            throw detail::status_error(bad->worker, workers_, bad->status);
        }
        if (!own_ok) throw worker_error(0, workers_, failure::exception, own_message);
        for (unsigned i = in_parent; i < workers_; ++i)
            if (auto what = transport_.error(i)) throw worker_error(i, workers_, failure::exception, *what);
        if constexpr (payload_kernel<K>) ship_output(k, n, data);
        // Every worker that ran a chunk (under static chunking, every one) adds its result.
        detail::maybe_result<R> total{};
        const auto add = [&](const void* r) {
            if (r == nullptr) return;
            const R value = *std::launder(static_cast<const R*>(r));
            total.value = total.has ? K::combine(total.value, value) : value;
            total.has = true;
        };
        if (own_ran) add(own);
        for (unsigned i = in_parent; i < workers_; ++i) add(transport_.result(i));
        return detail::finish(k, *state, total.value);
    }

    // The pid of the process that runs worker i (tests kill workers with it); the caller's own for process_pool's
    // worker 0.
    [[nodiscard]] pid_t pid(unsigned i) const noexcept { return transport_.pid(i); }

private:
    static constexpr unsigned in_parent = Caller == caller_role::runs_a_share ? 1 : 0;

    // The elements the worker processes may run: all but the caller's own chunk under static chunking.
    [[nodiscard]] std::uint64_t first_shipped(std::uint64_t n) const noexcept {
        return dynamic ? 0 : chunk_of(n, workers_, in_parent).begin;
    }
    // Copies the workers' input into the data area (n input elements, then n output elements); returns it.
    template <payload_kernel K>
    void* ship_input(const K& k, std::uint64_t n) {
        using T = typename K::element;
        auto* in = static_cast<T*>(transport_.data_area(2 * static_cast<std::size_t>(n) * sizeof(T) + 1));
        const std::uint64_t from = first_shipped(n);
        if (n > from) std::memcpy(in + from, k.input().data() + from, static_cast<std::size_t>(n - from) * sizeof(T));
        return in;
    }
    // Copies the workers' output from the data area to the caller's output.
    template <payload_kernel K>
    void ship_output(const K& k, std::uint64_t n, void* data) const {
        using T = typename K::element;
        const std::uint64_t from = first_shipped(n);
        if (n > from)
            std::memcpy(k.output().data() + from, static_cast<const T*>(data) + n + from,
                        static_cast<std::size_t>(n - from) * sizeof(T));
    }

    std::chrono::milliseconds deadline_;
    detail::pool_transport<Starter> transport_;
    std::mutex run_mutex_;  // one run at a time
    bool broken_ = false;
};

// W workers: the caller and W-1 forked processes.
using process_pool = basic_process_pool<caller_role::runs_a_share>;
// W forked processes; the caller waits (Python's ProcessPoolExecutor).
using process_pool_executor = basic_process_pool<caller_role::waits>;
// The same two with workers started by spawn (fresh copies of this program) or by the fork server.
using process_pool_spawn = basic_process_pool<caller_role::runs_a_share, detail::spawn_start>;
using process_pool_executor_spawn = basic_process_pool<caller_role::waits, detail::spawn_start>;
using process_pool_forkserver = basic_process_pool<caller_role::runs_a_share, detail::forkserver_start>;
using process_pool_executor_forkserver = basic_process_pool<caller_role::waits, detail::forkserver_start>;

namespace names {
inline constexpr std::string_view process_pool_dynamic = "process_pool.dynamic";
inline constexpr std::string_view process_pool_dynamic_coarse = "process_pool.dynamic.coarse";
inline constexpr std::string_view process_pool_dynamic_fine = "process_pool.dynamic.fine";
}  // namespace names

// process_pool with dynamic scheduling: 16, 4 and 128 chunks per worker.
using process_pool_dynamic = basic_process_pool<caller_role::runs_a_share, detail::fork_start,
                                                dynamic_chunks_of<16, names::process_pool_dynamic>>;
using process_pool_dynamic_coarse = basic_process_pool<caller_role::runs_a_share, detail::fork_start,
                                                       dynamic_chunks_of<4, names::process_pool_dynamic_coarse>>;
using process_pool_dynamic_fine = basic_process_pool<caller_role::runs_a_share, detail::fork_start,
                                                     dynamic_chunks_of<128, names::process_pool_dynamic_fine>>;

}  // namespace parbench::strategies

#pragma once
// tbb: a oneTBB task_arena with max_concurrency W, running a parallel_for over the items [0, n) with TBB's
// default partitioner, as a TBB user writes it: TBB cuts the range into a few pieces per thread and splits them
// further when an idle thread steals one, so uneven work is balanced by work stealing, not cut into W fixed
// chunks. Each thread adds the ranges it ran to the result slot of its arena index; a kernel that throws names
// that index as the worker. A peer, not parbench's own: built only where CMake found oneTBB (link parbench::tbb).
// TBB never runs more threads than its global limit (the CPUs by default), so W above that is a cap on
// concurrency, not that many threads: a 64-worker tbb run on 2 CPUs uses 2 threads. The arena asks for no more
// than that limit, which also keeps TBB from warning that it ignored the rest.
// The workers are TBB's, not the arena's: they outlive it. TBB starts them lazily, when an arena first has work;
// building the strategy brings them into its arena (join_workers), as thread_pool starts its threads when it is
// built, so that a run, the first included, pays TBB's dispatch and not its threads' start. Destroying the strategy
// ends the arena and then asks TBB to end its workers and wait for them (oneapi::tbb::finalize), so that what runs
// next starts without them; where TBB is still in use elsewhere in the program (another arena, a thread inside a
// parallel algorithm), finalize declines and the workers stay for that user. A later TBB algorithm starts them
// afresh.

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <new>
#include <string_view>
#include <thread>

#include "../chunk.hpp"
#include "../detail/dynamic_job.hpp"
#include "../strategy.hpp"

namespace parbench::strategies {

class tbb : public worker_count {
public:
    static constexpr std::string_view name = "tbb";
    static constexpr bool sweeps_workers = true;
    // TBB's threads take ranges of items as they free up: which worker runs which items is TBB's choice.
    static constexpr bool steals_work = true;

    // The arena's workers are running once it is built; they stay until the destructor ends them.
    explicit tbb(unsigned workers) : worker_count(workers), arena_(concurrency(workers)) { join_workers(); }
    tbb(const tbb&) = default;
    ~tbb() {
        arena_.terminate();
        ::oneapi::tbb::task_scheduler_handle handle{::oneapi::tbb::attach{}};
        (void)::oneapi::tbb::finalize(handle, std::nothrow);
    }

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        // The chunk count is unused: the partitioner cuts [0, n) itself.
        return detail::dynamic_fork_join(k, n, workers_, 1, [&](auto& job) {
            arena_.execute([&] {
                ::oneapi::tbb::parallel_for(
                    ::oneapi::tbb::blocked_range<std::uint64_t>(0, n),
                    [&](const ::oneapi::tbb::blocked_range<std::uint64_t>& r) {
                        // In [0, max_concurrency) inside the arena, and max_concurrency <= W; unique among the
                        // threads running at once, so one thread at a time writes a slot.
                        const auto w = static_cast<unsigned>(::oneapi::tbb::this_task_arena::current_thread_index());
                        job.run_range_into(w, chunk{r.begin(), r.end()});
                    },
                    ::oneapi::tbb::auto_partitioner{});
            });
        });
    }

private:
    // Runs one task per thread the arena may hold, each waiting until all of them have started: that takes as many
    // threads as the arena's concurrency, so TBB starts its workers (or wakes them) and brings them into the arena.
    // TBB gives an arena its workers when they are free: where another arena holds them (the global limit is shared)
    // and they do not come within join_wait, building stops waiting and the runs use what TBB gives them.
    void join_workers() {
        const auto threads = static_cast<unsigned>(arena_.max_concurrency());
        if (threads < 2) return;
        std::atomic<unsigned> joined{0};
        const auto until = std::chrono::steady_clock::now() + join_wait;
        arena_.execute([&] {
            ::oneapi::tbb::parallel_for(
                ::oneapi::tbb::blocked_range<unsigned>(0, threads, 1),
                [&](const ::oneapi::tbb::blocked_range<unsigned>&) {
                    joined.fetch_add(1);
                    while (joined.load() < threads && std::chrono::steady_clock::now() < until)
                        std::this_thread::yield();
                },
                ::oneapi::tbb::simple_partitioner{});
        });
    }
    static constexpr std::chrono::seconds join_wait{1};

    static int concurrency(unsigned workers) {
        const auto limit =
            ::oneapi::tbb::global_control::active_value(::oneapi::tbb::global_control::max_allowed_parallelism);
        return static_cast<int>(workers < limit ? workers : limit);
    }

    ::oneapi::tbb::task_arena arena_;
};

}  // namespace parbench::strategies

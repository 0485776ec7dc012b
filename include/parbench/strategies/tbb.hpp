#pragma once
// tbb: a oneTBB task_arena with max_concurrency W, running the W chunks as a parallel_for, combined after it.
// A peer, not parbench's own: built only where CMake found oneTBB (link parbench::tbb).
// TBB never runs more threads than its global limit (the CPUs by default), so W above that is a cap on
// concurrency, not that many threads: a 64-worker tbb run on 2 CPUs uses 2 threads. The arena asks for no more
// than that limit, which also keeps TBB from warning that it ignored the rest.
// The workers are TBB's, not the arena's: they outlive it. Destroying the strategy ends the arena and then asks
// TBB to end its workers and wait for them (oneapi::tbb::finalize), so that what runs next starts without them;
// where TBB is still in use elsewhere in the program (another arena, a thread inside a parallel algorithm),
// finalize declines and the workers stay for that user. A later TBB algorithm starts them afresh.

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <cstdint>
#include <new>
#include <string_view>

#include "../strategy.hpp"

namespace parbench::strategies {

class tbb : public worker_count {
public:
    static constexpr std::string_view name = "tbb";
    static constexpr bool sweeps_workers = true;

    // TBB starts its workers lazily, on the first run; they then stay until the destructor ends them.
    explicit tbb(unsigned workers) : worker_count(workers), arena_(concurrency(workers)) {}
    tbb(const tbb&) = default;
    ~tbb() {
        arena_.terminate();
        ::oneapi::tbb::task_scheduler_handle handle{::oneapi::tbb::attach{}};
        (void)::oneapi::tbb::finalize(handle, std::nothrow);
    }

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        return fork_join(k, n, workers_, [&](auto&& body) {
            arena_.execute([&] {
                // simple_partitioner with grain 1: one task per chunk, as every other strategy does.
                ::oneapi::tbb::parallel_for(
                    ::oneapi::tbb::blocked_range<unsigned>(0, workers_, 1),
                    [&](const ::oneapi::tbb::blocked_range<unsigned>& r) {
                        for (unsigned i = r.begin(); i != r.end(); ++i) body(i);
                    },
                    ::oneapi::tbb::simple_partitioner{});
            });
        });
    }

private:
    static int concurrency(unsigned workers) {
        const auto limit =
            ::oneapi::tbb::global_control::active_value(::oneapi::tbb::global_control::max_allowed_parallelism);
        return static_cast<int>(workers < limit ? workers : limit);
    }

    ::oneapi::tbb::task_arena arena_;
};

}  // namespace parbench::strategies

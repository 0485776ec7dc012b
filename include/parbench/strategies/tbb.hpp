#pragma once
// tbb: a oneTBB task_arena with max_concurrency W, running the W chunks as a parallel_for, combined after it.
// A peer, not parbench's own: built only where CMake found oneTBB (link parbench::tbb).
// TBB never runs more threads than its global limit (the CPUs by default), so W above that is a cap on
// concurrency, not that many threads: a 64-worker tbb run on 2 CPUs uses 2 threads. The arena asks for no more
// than that limit, which also keeps TBB from warning that it ignored the rest.

#include <oneapi/tbb/blocked_range.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <cstdint>
#include <string_view>

#include "../strategy.hpp"

namespace parbench::strategies {

class tbb : public worker_count {
public:
    static constexpr std::string_view name = "tbb";
    static constexpr bool sweeps_workers = true;

    // The arena starts its threads lazily, on the first run; they then stay for the arena's lifetime.
    explicit tbb(unsigned workers) : worker_count(workers), arena_(concurrency(workers)) {}

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
        const auto limit = ::oneapi::tbb::global_control::active_value(
            ::oneapi::tbb::global_control::max_allowed_parallelism);
        return static_cast<int>(workers < limit ? workers : limit);
    }

    ::oneapi::tbb::task_arena arena_;
};

}  // namespace parbench::strategies

#pragma once
// openmp: an OpenMP parallel region of W threads, one chunk per thread (schedule(static)), combined after the
// region. A peer, not parbench's own: built only where CMake found OpenMP (link parbench::openmp).
// The runtime keeps its thread team between regions, like a pool; how its idle threads wait (spin, then sleep)
// is the runtime's choice: OMP_WAIT_POLICY and GOMP_SPINCOUNT steer libgomp (docs/overhead.md).
// Destroying the strategy pauses the runtime (omp_pause_resource_all), which ends and joins that team, so that
// what runs next starts without its threads. The team belongs to the thread that ran the regions: destroy the
// strategy on that thread. A later region anywhere in the program starts a fresh team.

#include <omp.h>

#include <cstdint>
#include <string_view>

#include "../strategy.hpp"

namespace parbench::strategies {

class openmp : public worker_count {
public:
    static constexpr std::string_view name = "openmp";
    static constexpr bool sweeps_workers = true;

    using worker_count::worker_count;
    openmp(const openmp&) = default;
    openmp& operator=(const openmp&) = default;
    // Inside a parallel region the pause does nothing (it returns non-zero): the enclosing team is in use.
    ~openmp() { (void)omp_pause_resource_all(omp_pause_hard); }

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        return fork_join(k, n, workers_, [&](auto&& body) {
            // A loop over the chunks rather than one chunk per omp_get_thread_num(): the runtime may give a
            // smaller team than asked for (OMP_THREAD_LIMIT, nesting), and every chunk must still run once.
            // body is noexcept (fork_join catches), since no exception may leave a parallel region.
            const int chunks = static_cast<int>(workers_);
#pragma omp parallel for num_threads(chunks) schedule(static)
            for (int i = 0; i < chunks; ++i) body(static_cast<unsigned>(i));
        });
    }
};

}  // namespace parbench::strategies

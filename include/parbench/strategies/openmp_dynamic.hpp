#pragma once
// openmp.dynamic: an OpenMP parallel loop of W threads over 16 chunks per worker (at most n) with
// schedule(dynamic): each thread takes the next chunk as it finishes one, where openmp's schedule(static) gives
// each thread one W-th of [0, n). A peer, built only where CMake found OpenMP (link parbench::openmp); its team,
// and the pause on destruction, are openmp's (openmp.hpp).

#include <omp.h>

#include <cstdint>
#include <string_view>

#include "../detail/dynamic_job.hpp"
#include "../strategy.hpp"

namespace parbench::strategies {

class openmp_dynamic : public worker_count {
public:
    static constexpr std::string_view name = "openmp.dynamic";
    static constexpr bool sweeps_workers = true;
    static constexpr bool schedules_dynamically = true;
    static constexpr unsigned chunks_per_worker = 16;

    using worker_count::worker_count;
    openmp_dynamic(const openmp_dynamic&) = default;
    openmp_dynamic& operator=(const openmp_dynamic&) = default;
    ~openmp_dynamic() { (void)omp_pause_resource_all(omp_pause_hard); }

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        const std::uint64_t chunks = detail::dynamic_chunks(n, workers_, chunks_per_worker);
        return detail::dynamic_fork_join(k, n, workers_, chunks, [&](auto& job) {
            // Each thread adds its chunks to the slot of its thread number: a smaller team than asked for
            // (OMP_THREAD_LIMIT, nesting) uses fewer slots, and every chunk still runs once.
            const auto count = static_cast<long long>(chunks);
#pragma omp parallel for num_threads(static_cast <int>(workers_)) schedule(dynamic)
            for (long long c = 0; c < count; ++c)
                job.run_into(static_cast<unsigned>(omp_get_thread_num()), static_cast<std::uint64_t>(c));
        });
    }
};

}  // namespace parbench::strategies

#pragma once
// thread_pool.dynamic: thread_pool's workers with dynamic scheduling. [0, n) is cut into 16 chunks per worker
// (at most n), and each worker, the caller included, takes the next chunk from a shared counter until none is
// left, as OpenMP's schedule(dynamic) and Python's Pool.map(chunksize=) / imap_unordered do; thread_pool gives
// each worker one fixed W-th of [0, n). thread_pool.dynamic.coarse (4 chunks per worker) and .fine (128) are the
// same with another chunk size: fewer chunks cost less to hand out, more balance uneven work better.

#include <cstdint>
#include <string_view>

#include "../detail/dynamic_job.hpp"
#include "../strategy.hpp"
#include "thread_pool.hpp"

namespace parbench::strategies {

template <unsigned PerWorker, const std::string_view& Name>
class basic_thread_pool_dynamic : public worker_count {
public:
    static constexpr std::string_view name = Name;
    static constexpr bool sweeps_workers = true;
    static constexpr bool schedules_dynamically = true;
    static constexpr unsigned chunks_per_worker = PerWorker;

    explicit basic_thread_pool_dynamic(unsigned workers) : worker_count(workers), pool_(workers) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        return detail::dynamic_fork_join(k, n, workers_, detail::dynamic_chunks(n, workers_, PerWorker),
                                         [&](auto& job) { pool_.for_each_worker(job); });
    }

private:
    thread_pool pool_;
};

namespace names {
inline constexpr std::string_view thread_pool_dynamic = "thread_pool.dynamic";
inline constexpr std::string_view thread_pool_dynamic_coarse = "thread_pool.dynamic.coarse";
inline constexpr std::string_view thread_pool_dynamic_fine = "thread_pool.dynamic.fine";
}  // namespace names

using thread_pool_dynamic = basic_thread_pool_dynamic<16, names::thread_pool_dynamic>;
using thread_pool_dynamic_coarse = basic_thread_pool_dynamic<4, names::thread_pool_dynamic_coarse>;
using thread_pool_dynamic_fine = basic_thread_pool_dynamic<128, names::thread_pool_dynamic_fine>;

}  // namespace parbench::strategies

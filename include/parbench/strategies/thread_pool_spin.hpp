#pragma once
// thread_pool.spin: thread_pool with workers that never park. An idle worker spins on the pool's epoch word for as
// long as the pool lives, and the caller spins on the countdown until its run is done, as libgomp's workers do
// under OMP_WAIT_POLICY=active and as many hand-written pools do. It is the strategy that wins wall time by keeping
// every core busy: the CPU counters (tree_cpu_s, utilisation) and overhead/idle show what that costs. A pool with
// more workers than the process has CPUs does not spin, as thread_pool (libgomp throttles its spinning there too):
// a spinning worker would hold the CPU that another needs.

#include <cstdint>
#include <string_view>

#include "../strategy.hpp"
#include "thread_pool.hpp"

namespace parbench::strategies {

class thread_pool_spin : public worker_count {
public:
    static constexpr std::string_view name = "thread_pool.spin";
    static constexpr bool sweeps_workers = true;
    static constexpr bool spins_while_idle = true;

    explicit thread_pool_spin(unsigned workers)
        : worker_count(workers), pool_(workers, thread_pool::idle::spin, name) {}

    template <kernel K>
    typename K::result run(const K& k, std::uint64_t n) {
        return pool_.run(k, n);
    }

private:
    thread_pool pool_;
};

}  // namespace parbench::strategies

// The benchmark matrix. Adding a strategy is one entry in `all` (strategies.hpp; mpi joins it as `matrix`);
// adding a kernel is one add_kernel line.
// Sizes run from "start-up dominates" to "work dominates"; the seeds' own sizes are included where they fit
// (docs/seeds.md describes seed 000 to seed 004 and their experiments).

#include <algorithm>
#include <cstdint>
#include <vector>

#include "harness.hpp"
#include "strategies.hpp"

namespace parbench::bench {

namespace k = parbench::kernels;
namespace {

constexpr std::uint64_t pow2(unsigned e) { return std::uint64_t{1} << e; }

// 2^from, 2^(from+step), ..., 2^to, then the extras.
std::vector<std::uint64_t> powers(unsigned from, unsigned to, unsigned step, std::vector<std::uint64_t> extras = {}) {
    for (unsigned e = from; e <= to; e += step) extras.push_back(pow2(e));
    std::sort(extras.begin(), extras.end());
    return extras;
}

}  // namespace

PARBENCH_FAMILY(0, matrix) {
    at_run_start([] { detail::warm_up(matrix_strategies{}); });
    // seed 000 counts to 100,000; seed 001 counts to 2e9 in C. At 2^16 a pool should already beat sequential
    // (docs/thread_pool.md).
    add_kernel<matrix_strategies>(k::count{}, {powers(10, 26, 16, {pow2(16)}), powers(10, 26, 4, {100'000, pow2(16)}),
                                               powers(10, 30, 2, {2'000'000'000})});
    // seed 003 sums 0..5e8.
    add_kernel<matrix_strategies>(k::sum_range{},
                                  {powers(10, 26, 16), powers(10, 26, 4), powers(10, 30, 2, {500'000'000})});
    // seed 002: max of 5,000,000 random numbers.
    // The default profile's largest random_max n is the seed's 5,000,000 alone: 2^22 beside it repeated it.
    // The quick profile stops at 2^20 (and the counters at 2^18): they are its longest runs after the headline's.
    add_kernel<matrix_strategies>(k::random_max{},
                                  {powers(10, 20, 10), powers(10, 18, 4, {5'000'000}), powers(10, 26, 2)});
    // seed 000: a shared counter to 1,000,000.
    // The default profile's largest n is the seed's 1,000,000 alone: 2^20 beside it repeated it.
    const sizes counter{powers(10, 18, 8), powers(10, 15, 5, {1'000'000}), powers(10, 24, 2, {1'000'000})};
    add_kernel<matrix_strategies>(k::locked_counter_coarse{}, counter);
    add_kernel<matrix_strategies>(k::locked_counter_fine{}, counter);
    add_kernel<matrix_strategies>(k::locked_counter_atomic{}, counter);
    add_kernel<matrix_strategies>(k::locked_counter_sharded{}, counter);
    // seed 004: 3 tasks that block; here each blocks 1 ms.
    add_kernel<matrix_strategies>(k::sleep_tasks{}, {{1, 8}, {1, 3, 8, 64}, {1, 3, 8, 64, 256}});
    // Uneven work: static chunks against dynamic scheduling. The triangular kernel's cost grows with n squared.
    add_kernel<matrix_strategies>(k::uneven_triangular{}, {{1024}, {4096}, {1024, 4096, 16384}});
    add_kernel<matrix_strategies>(k::uneven_heavy_tail{}, {{4096}, {65536}, {4096, 65536, 262144}});
    // Moving the data: n doubles the caller holds (B = 8n bytes: 4 KiB to 64 MiB, 256 MiB in full), at a fixed
    // amount of work per run spread over them (2^25 chain steps; quick 2^22, full 2^28), so that what grows with B
    // is the cost of moving it.
    const profile p = current_options().run_profile;
    const std::uint64_t work = p == profile::quick ? pow2(22) : p == profile::full ? pow2(28) : pow2(25);
    add_kernel<matrix_strategies>(k::payload{.work = work},
                                  {{pow2(9), pow2(17)}, powers(9, 23, 4, {pow2(23)}), powers(9, 25, 2)});
}

}  // namespace parbench::bench

// The gil/ family: gil_threads with the switch interval swept, names gil/<kernel>/workers:W/switch_us:S/real_time.
// Seed 002 (docs/seeds.md) blames the thread slowdown on switching; here it is a curve: time, hand-overs per
// second and context switches against the interval. n is fixed per kernel (the largest quick size of the matrix),
// so names carry no n: count n = 2^26, random_max n = 2^22. One worker never switches, so workers start at 2.

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "harness.hpp"

namespace parbench::bench {
namespace {

template <kernel K>
void add_gil(const K& k, std::uint64_t n, unsigned workers, unsigned switch_us) {
    const std::string name = "gil/" + std::string(K::name) + "/workers:" + std::to_string(workers) +
                             "/switch_us:" + std::to_string(switch_us);
    auto* b = register_benchmark(name, [k, n, workers, switch_us](benchmark::State& state) {
        using benchmark::Counter;
        try {
            strategies::gil_threads strategy(workers, std::chrono::microseconds(switch_us));
            const auto before = strategy.gil_stats();
            if (!measure_with(state, strategy, k, n, workers)) return;
            const auto after = strategy.gil_stats();
            state.counters["handovers_per_second"] =
                Counter(static_cast<double>(after.switches - before.switches), Counter::kIsRate);
            state.counters["drop_requests_per_second"] =
                Counter(static_cast<double>(after.drop_requests - before.drop_requests), Counter::kIsRate);
        } catch (const std::exception& e) {
            fail(state, e.what());
        }
    });
    b->UseRealTime();
}

}  // namespace

PARBENCH_FAMILY(40, gil) {
    const bool quick = current_options().run_profile == profile::quick;
    const std::vector<unsigned> intervals = quick
                                                ? std::vector<unsigned>{100, 1000, 5000, 20000}
                                                : std::vector<unsigned>{100, 200, 500, 1000, 2000, 5000, 10000, 20000};
    // The quick profile, a smoke run, leaves out more workers than CPUs (the matrix's gil_threads has them).
    for (const unsigned w : quick ? workers_up_to_cpus() : workers_in_force()) {
        if (w < 2) continue;
        for (const unsigned s : intervals) add_gil(kernels::count{}, std::uint64_t{1} << 26, w, s);
        for (const unsigned s : intervals) add_gil(kernels::random_max{}, std::uint64_t{1} << 22, w, s);
    }
}

}  // namespace parbench::bench

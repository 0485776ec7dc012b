#pragma once
// The estimator of tools/parbench/estimate.py, for the console: a benchmark's time is its fastest repetition, a
// speedup the ratio of two fastest repetitions, each with the interval where a second run would put it: up to the
// K-th fastest (K = 2, or 3 from 8 repetitions on), down by the same ratio below the fastest, and a relative
// floor. The same arithmetic in the same order as the Python, so that the console's summary and the report print
// the same figures (ctest bench.same_speedups checks it).

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

namespace parbench::bench {

struct estimate {
    static constexpr double floor = 0.03;  // estimate.FLOOR
    static constexpr double wide = 1.3;    // estimate.WIDE

    double value = 0;
    double low = 0;
    double high = 0;

    // Too wide to decide a comparison: the upper end more than `wide` times the lower.
    [[nodiscard]] bool is_wide() const noexcept { return low <= 0 || high / low > wide; }

    // The time of a benchmark from its repetitions' times; nullopt without a usable one.
    [[nodiscard]] static std::optional<estimate> of_time(std::vector<double> samples) {
        samples.erase(
            std::remove_if(samples.begin(), samples.end(), [](double x) { return !std::isfinite(x) || x <= 0; }),
            samples.end());
        if (samples.empty()) return std::nullopt;
        std::sort(samples.begin(), samples.end());
        const std::size_t k = samples.size() >= 8 ? 3 : samples.size() >= 2 ? 2 : 1;
        return estimate{samples[0], samples[0] * (samples[0] / samples[k - 1]) * (1 - floor),
                        samples[k - 1] * (1 + floor)};
    }

    // Google Benchmark statistics over a benchmark's repetitions (Benchmark::ComputeStatistics): its JSON then
    // carries the estimate and its interval as the aggregates <name>_fastest, _fastest_low and _fastest_high.
    static double fastest(const std::vector<double>& v) { return of_part(v, &estimate::value); }
    static double fastest_low(const std::vector<double>& v) { return of_part(v, &estimate::low); }
    static double fastest_high(const std::vector<double>& v) { return of_part(v, &estimate::high); }

    // One part of of_time(v), 0 without a usable repetition: of_time once per statistic.
    static double of_part(const std::vector<double>& v, double estimate::*part) {
        const auto e = of_time(v);
        return e ? (*e).*part : 0.0;
    }

    // Baseline time over this time, the interval's ends crosswise.
    [[nodiscard]] static estimate speedup_of(const estimate& b, const estimate& t) {
        return estimate{b.value / t.value, b.low / t.high, b.high / t.low};
    }
};

}  // namespace parbench::bench

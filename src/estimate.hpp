#pragma once
// The estimator of tools/parbench/estimate.py, for the console: a benchmark's time is its fastest repetition, with
// the interval where a second run would put it: up to the K-th fastest (K = 2, or 3 from 8 repetitions on), down
// by the same ratio below the fastest, and a relative floor. A speedup compares repetitions taken in one state of
// the CPUs (matched_speedup): the fastest of all where both sides were calm often enough, else the medians of the
// slow ones (median_ratio), else the fastest of all with an interval that holds the medians' ratio too.
// The same arithmetic in the same order as the Python, so that the console's summary and the report print the
// same figures (ctest bench.same_speedups checks it).

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <optional>
#include <vector>

namespace parbench::bench {

struct estimate {
    static constexpr double floor = 0.03;                                            // estimate.FLOOR
    static constexpr double wide = 1.3;                                              // estimate.WIDE
    static constexpr double calm = 1.3;                                              // estimate.CALM
    static constexpr double slow = 1.5;                                              // estimate.SLOW
    static constexpr double utilised = 0.9;                                          // estimate.UTILISED
    static constexpr double shared_min_ns = 1e7;                                     // estimate.SHARED_MIN_NS
    static constexpr double calm_quantile = 0.05;                                    // estimate.CALM_QUANTILE
    static constexpr std::size_t match_calm = 2;                                     // estimate.MATCH_CALM
    static constexpr std::size_t match_slow = 2;                                     // estimate.MATCH_SLOW
    static constexpr double predict_z = 1.96;                                        // estimate.PREDICT_Z
    static constexpr std::array<double, 5> t_975{0.0, 12.706, 4.303, 3.182, 2.776};  // estimate.T_975

    // One repetition: its time, the probes of disturbance.hpp around it (counters probe_ns, probe_best_ns,
    // probe_bound_ns), the share of its time its process tree ran on its CPUs (counter utilisation) and its
    // worker count; 0: not recorded.
    struct repetition {
        double time = 0;
        double probe_ns = 0;
        double probe_best_ns = 0;
        double utilisation = 0;
        double probe_bound_ns = 0;
        unsigned workers = 1;
        double run_ns = 0;  // one run's time (per iteration); 0: unknown
    };
    enum class cpu_state { none, calm, slow };

    double value = 0;
    double low = 0;
    double high = 0;

    // Too wide to decide a comparison: the upper end more than `wide` times the lower.
    [[nodiscard]] bool is_wide() const noexcept { return low <= 0 || high / low > wide; }

    // The time of a benchmark from its repetitions' times; nullopt without a usable one.
    [[nodiscard]] static std::optional<estimate> of_time(std::vector<double> samples) {
        clean(samples);
        if (samples.empty()) return std::nullopt;
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

    // Baseline median b over median t (of_median), the interval where a rerun's ratio of medians would fall:
    // estimate.median_ratio, each end sqrt(2 (h_b^2 + h_t^2)) in log from the two sides' half-widths.
    [[nodiscard]] static estimate median_ratio(const estimate& b, const estimate& t) {
        const double value = b.value / t.value;
        const auto sq = [](double x) { return x * x; };
        const double low = std::sqrt(2 * (sq(std::log(b.value / b.low)) + sq(std::log(t.high / t.value))));
        const double high = std::sqrt(2 * (sq(std::log(b.high / b.value)) + sq(std::log(t.value / t.low))));
        return estimate{value, value * std::exp(-low), value * std::exp(high)};
    }

    // The median of the repetitions' times, the interval where the median lies (about 95%): the ranks from six
    // repetitions on; below that Student's t on their logs, at least their range (estimate.median_estimate).
    [[nodiscard]] static std::optional<estimate> of_median(std::vector<double> samples) {
        clean(samples);
        if (samples.empty()) return std::nullopt;
        const std::size_t m = samples.size();
        const double value = (samples[m / 2] + samples[(m - 1) / 2]) / 2;
        double low = 0;
        double high = 0;
        if (m >= 2 && m <= t_975.size()) {
            double mean = 0;
            for (const double x : samples) mean += std::log(x);
            mean /= static_cast<double>(m);
            double squares = 0;
            for (const double x : samples) {
                const double d = std::log(x) - mean;
                squares += d * d;
            }
            const double half = t_975[m - 1] * std::sqrt(squares / static_cast<double>(m - 1) / static_cast<double>(m));
            low = std::min(samples.front(), value * std::exp(-half));
            high = std::max(samples.back(), value * std::exp(half));
        } else {
            const double middle = static_cast<double>(m - 1) / 2;
            const double ranks = predict_z * std::sqrt(static_cast<double>(m)) / 2;
            low = samples[static_cast<std::size_t>(std::max(0.0, std::floor(middle - ranks)))];
            high = samples[static_cast<std::size_t>(std::min(static_cast<double>(m - 1), std::ceil(middle + ranks)))];
        }
        return estimate{value, low * (1 - floor), high * (1 + floor)};
    }

    // The run's calm probe: the calm_quantile quantile of the repetitions' fastest probes; 0 without one.
    [[nodiscard]] static double calm_reference(std::vector<double> probes) {
        clean(probes);
        if (probes.empty()) return 0;
        return probes[static_cast<std::size_t>(calm_quantile * static_cast<double>(probes.size() - 1))];
    }

    // estimate.utilisation_floor: below it a repetition shared its CPUs with another program.
    [[nodiscard]] static double utilisation_floor(const repetition& r) noexcept {
        const double w = std::max(1u, r.workers);
        const double ratio = r.probe_ns > 0 && r.probe_best_ns > 0 ? r.probe_best_ns / r.probe_ns : 1.0;
        return utilised * (1 + (w - 1) * std::min(1.0, ratio)) / w;
    }

    [[nodiscard]] static cpu_state state_of(const repetition& r, double reference) noexcept {
        if (reference <= 0 || r.probe_ns <= 0 || r.probe_best_ns <= 0) return cpu_state::none;
        // Shared with another program; read only in a run long enough for its workers to be busy.
        const bool long_enough = r.run_ns <= 0 || r.run_ns >= shared_min_ns;
        if (r.utilisation > 0 && long_enough && r.utilisation < utilisation_floor(r)) return cpu_state::none;
        if (r.probe_ns <= calm * reference) return cpu_state::calm;
        if ((r.probe_bound_ns > 0 ? r.probe_bound_ns : r.probe_best_ns) >= slow * reference) return cpu_state::slow;
        return cpu_state::none;
    }

    // Baseline time over this time, compared in one state of the CPUs: every repetition's fastest where each side
    // has match_calm calm ones (the fastest then ran calm), else the slow ones' medians where each has match_slow,
    // else every repetition's fastest. nullopt where either side has no usable repetition.
    [[nodiscard]] static std::optional<estimate> matched_speedup(const std::vector<repetition>& base,
                                                                 const std::vector<repetition>& reps,
                                                                 double reference) {
        const auto of = [reference](const std::vector<repetition>& rs, std::optional<cpu_state> state) {
            std::vector<double> out;
            for (const auto& r : rs)
                if (!state || state_of(r, reference) == *state) out.push_back(r.time);
            clean(out);
            return out;
        };
        if (of(base, cpu_state::calm).size() >= match_calm && of(reps, cpu_state::calm).size() >= match_calm)
            return speedup_of(*of_time(of(base, std::nullopt)), *of_time(of(reps, std::nullopt)));
        if (auto b = of(base, cpu_state::slow), t = of(reps, cpu_state::slow);
            b.size() >= match_slow && t.size() >= match_slow)
            return median_ratio(*of_median(b), *of_median(t));
        const auto in_a_state = [reference](const repetition& r) { return state_of(r, reference) != cpu_state::none; };
        if (std::any_of(base.begin(), base.end(), in_a_state) || std::any_of(reps.begin(), reps.end(), in_a_state))
            return unmatched_speedup(of(base, std::nullopt), of(reps, std::nullopt));
        const auto b = of_time(of(base, std::nullopt)), t = of_time(of(reps, std::nullopt));
        if (!b || !t) return std::nullopt;
        return speedup_of(*b, *t);
    }

    // estimate.unmatched_speedup: the fastest over the fastest, its interval widened to hold the medians' ratio's
    // (median_ratio) as well.
    [[nodiscard]] static std::optional<estimate> unmatched_speedup(const std::vector<double>& base,
                                                                   const std::vector<double>& reps) {
        const auto b = of_time(base), t = of_time(reps);
        if (!b || !t) return std::nullopt;
        estimate e = speedup_of(*b, *t);
        const estimate m = median_ratio(*of_median(base), *of_median(reps));
        e.low = std::min(e.low, m.low);
        e.high = std::max(e.high, m.high);
        return e;
    }

private:
    // Drops what is not a usable time (not finite, not positive) and sorts the rest.
    static void clean(std::vector<double>& v) {
        v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return !std::isfinite(x) || x <= 0; }), v.end());
        std::sort(v.begin(), v.end());
    }
};

}  // namespace parbench::bench

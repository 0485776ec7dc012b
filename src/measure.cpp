#include "measure.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <map>
#include <mutex>
#include <vector>

namespace parbench::bench {
namespace {

std::atomic<bool> g_error{false};
std::mutex g_baseline_mutex;
std::map<std::string, std::vector<double>, std::less<>> g_baselines;  // every repetition's seconds

std::string baseline_key(std::string_view kernel, std::uint64_t n) {
    return std::string(kernel) + "/n:" + std::to_string(n);
}

}  // namespace

void note_error() { g_error.store(true); }
bool any_error() { return g_error.load(); }

void set_baseline(std::string_view kernel, std::uint64_t n, double seconds) {
    std::lock_guard lock(g_baseline_mutex);
    g_baselines[baseline_key(kernel, n)].push_back(seconds);
}

std::optional<double> baseline(std::string_view kernel, std::uint64_t n) {
    std::lock_guard lock(g_baseline_mutex);
    const auto it = g_baselines.find(baseline_key(kernel, n));
    if (it == g_baselines.end() || it->second.empty()) return std::nullopt;
    std::vector<double> seconds = it->second;
    const auto middle = seconds.begin() + static_cast<std::ptrdiff_t>(seconds.size() / 2);
    std::nth_element(seconds.begin(), middle, seconds.end());
    return *middle;
}

void fail(benchmark::State& state, const std::string& why) {
    note_error();
    state.SkipWithError(why.c_str());
}

namespace detail {

void spin_for(std::chrono::nanoseconds d) noexcept {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {}
}

void set_counters(benchmark::State& state, std::string_view kernel, std::uint64_t n, unsigned workers, bool is_baseline,
                  double seconds_per_iteration, const usage& before, std::int64_t self_peak_kib) {
    using benchmark::Counter;
    const usage after = usage::now();
    state.SetItemsProcessed(static_cast<std::int64_t>(n) * static_cast<std::int64_t>(state.iterations()));
    if (is_baseline) set_baseline(kernel, n, seconds_per_iteration);
    if (const auto base = baseline(kernel, n); base && seconds_per_iteration > 0) {
        const double speedup = *base / seconds_per_iteration;
        state.counters["speedup"] = speedup;
        state.counters["efficiency"] = speedup / workers;
    }
    // Page faults show where a run's time goes to fresh memory: glibc maps blocks above its mmap threshold (at
    // most 32 MiB) anew on every allocation, so a 40 MB buffer faults in every run while 8 MB ones are reused.
    state.counters["minor_faults"] =
        Counter(static_cast<double>(after.minor_faults - before.minor_faults), Counter::kAvgIterations);
    state.counters["csw_voluntary"] =
        Counter(static_cast<double>(after.voluntary - before.voluntary), Counter::kAvgIterations);
    state.counters["csw_involuntary"] =
        Counter(static_cast<double>(after.involuntary - before.involuntary), Counter::kAvgIterations);
    // A child's peak counts only if it was reached during this benchmark.
    const std::int64_t children =
        after.children_peak_rss_kib > before.children_peak_rss_kib ? after.children_peak_rss_kib : 0;
    state.counters["peak_rss"] = Counter(static_cast<double>(std::max(self_peak_kib, children)) * 1024.0,
                                         Counter::kDefaults, Counter::OneK::kIs1024);
    if (workers > hardware_threads()) state.SetLabel("oversubscribed");
}

}  // namespace detail

}  // namespace parbench::bench

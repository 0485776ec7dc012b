#include "harness.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
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

std::vector<unsigned> worker_sweep(profile p, unsigned hw) {
    std::vector<unsigned> w;
    if (p == profile::quick) {
        w = {1, 2, hw, 2 * hw};
    } else {
        for (unsigned x = 1; x <= 2 * hw; x *= 2) w.push_back(x);
        w.push_back(hw);
    }
    std::sort(w.begin(), w.end());
    w.erase(std::unique(w.begin(), w.end()), w.end());
    return w;
}

const std::vector<unsigned>& workers_in_force() {
    static const std::vector<unsigned> w = current_options().workers
                                               ? *current_options().workers
                                               : worker_sweep(current_options().run_profile, hardware_threads());
    return w;
}

const std::vector<unsigned>& workers_up_to_cpus() {
    static const std::vector<unsigned> w = [] {
        if (current_options().workers) return *current_options().workers;
        std::vector<unsigned> out;
        for (const unsigned x : workers_in_force())
            if (x <= hardware_threads()) out.push_back(x);
        return out;
    }();
    return w;
}

bool in_sweep(bool starts_processes_per_run, unsigned workers, std::size_t i, std::size_t count) {
    const auto& o = current_options();
    if (o.workers || o.run_profile != profile::default_) return true;
    const bool ends = i == 0 || i + 1 == count;
    if ((workers == 1 || workers > hardware_threads()) && !ends) return false;
    if (starts_processes_per_run && i != 0 && i + 2 < count) return false;
    return true;
}

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

namespace detail {

void fail(benchmark::State& state, const std::string& why) {
    note_error();
    state.SkipWithError(why.c_str());
}

void spin_for(std::chrono::nanoseconds d) noexcept {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {}
}

void note_unavailable(std::string_view strategy, unsigned workers, const std::string& why) {
    static std::mutex m;
    static std::set<std::string, std::less<>> said;
    std::lock_guard lock(m);
    if (!said.emplace(strategy).second) return;
    const std::string which =
        workers <= 1 ? "not registered" : "workers:" + std::to_string(workers) + " and above not registered";
    std::fprintf(stderr, "bench_parallel: %.*s: %s: %s\n", static_cast<int>(strategy.size()), strategy.data(),
                 which.c_str(), why.c_str());
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

namespace {
struct family_entry {
    int order;
    const char* name;
    void (*add)();
};
// A function-local static: families register during static initialisation, in no fixed order across files.
std::vector<family_entry>& families() {
    static std::vector<family_entry> all;
    return all;
}
}  // namespace

family::family(int order, const char* name, void (*add)()) { families().push_back({order, name, add}); }

namespace {
std::vector<void (*)()>& run_start_hooks() {
    static std::vector<void (*)()> all;
    return all;
}
}  // namespace

void at_run_start(void (*fn)()) { run_start_hooks().push_back(fn); }
void run_start() {
    for (auto* fn : run_start_hooks()) fn();
}

void register_families() {
    auto list = families();
    std::stable_sort(list.begin(), list.end(), [](const family_entry& a, const family_entry& b) {
        return a.order < b.order || (a.order == b.order && std::string_view(a.name) < b.name);
    });
    for (const auto& f : list) f.add();
}

}  // namespace parbench::bench

#include "measure.hpp"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <vector>

#include "options.hpp"

namespace parbench::bench {
namespace {

std::atomic<bool> g_error{false};
std::atomic<double> g_slowest_run{0.0};  // seconds per run of the slowest benchmark so far

}  // namespace

void note_error() { g_error.store(true); }
bool any_error() { return g_error.load(); }

void fail(benchmark::State& state, const std::string& why) {
    // After a stop was asked for, a failure is the interrupt's: Ctrl-C signals the whole process group, and a
    // worker process that does not handle SIGINT (a spawned program, the fork server and its forks) dies of it.
    if (interrupt::stop_if_requested(state)) return;
    note_error();
    state.SkipWithError(why.c_str());
}

std::chrono::milliseconds worker_deadline() {
    const auto& o = current_options();
    if (o.worker_deadline_s) return std::chrono::seconds(*o.worker_deadline_s);
    const double scaled = std::min(worker_deadline_scale * g_slowest_run.load(), double{max_worker_deadline_s});
    return std::chrono::milliseconds(
        static_cast<std::int64_t>(1000 * std::max(double{default_worker_deadline_floor_s}, scaled)));
}

namespace detail {

void note_run_seconds(double seconds) noexcept {
    if (seconds > g_slowest_run.load()) g_slowest_run.store(seconds);
}

void spin_for(std::chrono::nanoseconds d) noexcept {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {}
}

void set_counters(benchmark::State& state, std::uint64_t n, unsigned workers, const usage& before,
                  const machine_sample& machine_before, std::int64_t self_peak_kib, double runs) {
    using benchmark::Counter;
    const usage after = usage::now();
    state.SetItemsProcessed(static_cast<std::int64_t>(n) * static_cast<std::int64_t>(state.iterations()));
    // What the machine was doing: read by the report's disturbance section (tools/parbench/disturbance.py).
    const machine_sample machine_after = machine_sample::now();
    state.counters["at_s"] = machine_before.at_seconds;
    // The CPUs' state across the repetition: the slowest probe before or after it, and the fastest. A pinned
    // repetition's sample after it reads its own CPU alone (the thread may run nowhere else), and so does the one
    // before it (machine_sample::pinned_to).
    state.counters["probe_ns"] = std::max(machine_before.probe_ns, machine_after.probe_ns);
    state.counters["probe_best_ns"] = std::min(machine_before.probe_best_ns, machine_after.probe_best_ns);
    // The probe of the CPU that sets the repetition's pace, where it was slowest both before and after: a pinned
    // repetition's CPU; the slowest CPU where the workers cover every CPU (a static split waits for its slowest
    // worker); else any CPU, so the fastest.
    const unsigned cpus = hardware_threads();
    state.counters["probe_bound_ns"] = machine_before.pinned_cpu < 0 && workers >= cpus
                                           ? std::min(machine_before.probe_ns, machine_after.probe_ns)
                                           : std::min(machine_before.probe_best_ns, machine_after.probe_best_ns);
    if (machine_before.pinned_cpu >= 0) state.counters["cpu"] = machine_before.pinned_cpu;
    state.counters["others_running"] = machine_before.others_running;
    state.counters["steal_pct"] = machine_after.steal_percent_since(machine_before);
    // Page faults show where a run's time goes to fresh memory: glibc maps blocks above its mmap threshold (at
    // most 32 MiB) anew on every allocation, so a 40 MB buffer faults in every run while 8 MB ones are reused.
    state.counters["minor_faults"] = static_cast<double>(after.minor_faults - before.minor_faults) / runs;
    state.counters["csw_voluntary"] = static_cast<double>(after.voluntary - before.voluntary) / runs;
    state.counters["csw_involuntary"] = static_cast<double>(after.involuntary - before.involuntary) / runs;
    // A child's peak counts only if it was reached during this benchmark.
    const std::int64_t children =
        after.children_peak_rss_kib > before.children_peak_rss_kib ? after.children_peak_rss_kib : 0;
    state.counters["peak_rss"] = Counter(static_cast<double>(std::max(self_peak_kib, children)) * 1024.0,
                                         Counter::kDefaults, Counter::OneK::kIs1024);
    if (workers > cpus) state.SetLabel("oversubscribed");
}

void set_cpu_counters(benchmark::State& state, double cpu_seconds, double wall_seconds, unsigned workers) {
    state.counters["tree_cpu_s"] = cpu_seconds;
    const double capacity = wall_seconds * static_cast<double>(std::max(workers, 1u));
    if (capacity > 0) state.counters["utilisation"] = cpu_seconds / capacity;
}

}  // namespace detail

}  // namespace parbench::bench

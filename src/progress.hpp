#pragma once
// run_reporter: what bench_parallel puts around Google Benchmark's reporters so that a whole run can be trusted.
// - Before every benchmark it settles the process (settle_process()), and it stamps each result with the resident
//   size that benchmark started from (counter rss_at_start, bytes).
// - Where a benchmark ran repetitions, the interval of its time (estimate.hpp: its fastest repetitions) says how
//   well it is known: wider than estimate::wide, the results carry the label `wide`, as runs with more workers
//   than CPUs carry `oversubscribed`. In compact mode the console shows one line per benchmark, the median,
//   labelled with the repetitions' spread, cv=X%.
// - The summary ends with the speedups at each kernel's largest n, at as many workers as CPUs, with their
//   intervals: the report's figures, computed the same way.
// - On a terminal it keeps one live line on stderr: done/total, elapsed, time left, the benchmark running now.

#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace parbench::bench {

struct run_settings {
    bool progress = false;             // draw the live line on stderr (only for a terminal)
    bool compact = false;              // the console shows each benchmark's median line only
    std::string out_path;              // --benchmark_out; empty: no file reporter
    std::string out_format = "json";   // --benchmark_out_format: json, console or csv
    std::vector<std::string> planned;  // the names about to run, in order (for done/total)
    int repetitions = 1;               // --benchmark_repetitions in force (for the time left)
    bool interleaved = false;          // --benchmark_enable_random_interleaving in force
};

class run_reporter {
public:
    explicit run_reporter(run_settings settings);
    ~run_reporter();
    run_reporter(const run_reporter&) = delete;
    run_reporter& operator=(const run_reporter&) = delete;

    // What to pass to benchmark::RunSpecifiedBenchmarks(display, file); file() is nullptr without an out path.
    [[nodiscard]] benchmark::BenchmarkReporter* display() const;
    [[nodiscard]] benchmark::BenchmarkReporter* file() const;

    // The end-of-run lines: count, errors, wide ones, wall time, the speedups at each kernel's largest n, where the
    // results are and what to run next.
    void print_summary(std::FILE* to, const std::string& next_command) const;

    struct state;

private:
    std::unique_ptr<state> state_;
};

// One line on `to` for each thing that will make this run's figures noisy or unrepresentative: load average above
// 0.3 x CPUs, a CPU frequency governor other than `performance`, an unoptimised or sanitized build.
// Returns how many it printed.
std::size_t warn_about_noise(std::FILE* to, const std::string& build_type);

// Called by every call of a matrix benchmark (each repetition, and Google Benchmark's trials before the first):
// redraws the live line at most four times a second, so an interleaved run, whose benchmarks are reported only
// after their last repetition, still shows progress.
void note_repetition() noexcept;

// The command that turns a run's JSON into the report (empty without an out path or for a format other than json).
[[nodiscard]] std::string next_command(const std::string& out_path, const std::string& out_format);

// The benchmark names Google Benchmark would run with the flags in force, in order (--benchmark_list_tests).
[[nodiscard]] std::vector<std::string> planned_benchmarks();

}  // namespace parbench::bench

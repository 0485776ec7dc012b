#pragma once
// Interrupted runs. SIGINT, SIGTERM and SIGHUP ask the run to stop: the benchmark in flight ends at its next
// check, every later one is skipped, and the reporters pass on only the benchmarks that finished before the
// stop. The --benchmark_out file is then closed as usual; its JSON context names the signal as
// "parbench_interrupted". main() says so in one line and exits with 128 + the signal. A second signal ends the
// process at once (worker processes die with it: they are forked with a parent-death signal).
//
// Google Benchmark has no way to cancel a run, so the stop is made of three parts: the check every benchmark
// makes before it starts and in its measured loop (stop_if_requested), the skipped benchmarks' runs that the
// reporters drop, and a file reporter that holds the output until the end, when it knows whether to mark it.

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "output_file.hpp"

namespace parbench::bench::interrupt {

// The context key of an interrupted run's JSON; its value is the signal's name, e.g. "SIGINT".
inline constexpr std::string_view context_key = "parbench_interrupted";

// Installs the handlers. Children forked later inherit them, so a Ctrl-C sent to the whole process group does
// not kill a worker process mid-run: the parent stops at its next check and tears its workers down as usual.
void install();

// The signal that asked the run to stop, or 0.
[[nodiscard]] int requested() noexcept;

// "SIGINT", "SIGTERM", "SIGHUP", else "signal N".
[[nodiscard]] std::string signal_name(int sig);

namespace detail {
extern std::atomic<int> g_requested;
bool stop(benchmark::State& state);
}  // namespace detail

// If a stop was requested, ends this benchmark with an error the reporters drop, and returns true; the caller
// then returns at once (from inside the measured loop too). Costs one relaxed load while no signal came.
inline bool stop_if_requested(benchmark::State& state) {
    if (detail::g_requested.load(std::memory_order_relaxed) == 0) return false;
    return detail::stop(state);
}

namespace detail {
// Passes the runs reported before the stop and counts their benchmarks. Google Benchmark reports each benchmark's
// runs together (its repetitions, then its aggregates), so a new name is a new benchmark: the filter keeps the
// last name only, not every name of the run, which would grow the process benchmark by benchmark.
class finished_filter {
public:
    bool pass(const std::vector<benchmark::BenchmarkReporter::Run>& runs);
    [[nodiscard]] std::size_t count() const noexcept { return count_; }

private:
    std::string last_;
    std::size_t count_ = 0;
};

// Google Benchmark escapes only \b \f \n \r \t \\ and \" in the strings it writes, so an error message, label or
// context value holding another control character, or bytes that are not UTF-8, makes its file invalid JSON.
// Returns its output `json` with such characters written as \u00XX and each byte of invalid UTF-8 as \ufffd.
// Outside strings that output has only ASCII, spaces and newlines (a newline in a string is escaped), so every
// byte this changes is inside a string.
[[nodiscard]] std::string json_safe(std::string_view json);
}  // namespace detail

// A display reporter that passes on to `inner` (not owned; Google Benchmark's default one, or a wrapper of it)
// only the runs reported before the stop.
class display_reporter final : public benchmark::BenchmarkReporter {
public:
    explicit display_reporter(benchmark::BenchmarkReporter& inner) : inner_(inner) {}
    bool ReportContext(const Context& context) override;
    void ReportRuns(const std::vector<Run>& runs) override;
    void Finalize() override;
    // How many benchmarks it passed on.
    [[nodiscard]] std::size_t finished() const noexcept { return filter_.count(); }

private:
    void share_streams();
    benchmark::BenchmarkReporter& inner_;
    detail::finished_filter filter_;
};

// The --benchmark_out reporter, to pass to RunSpecifiedBenchmarks in place of the library's own: it passes on to
// its inner reporter only the runs reported before the stop, and writes what that reporter writes into `out`
// (output_file.hpp; Google Benchmark's own file stream, which it truncates at the start, is left unused). For
// JSON it holds the inner reporter's output until the end, made safe (detail::json_safe) as it comes, and then
// writes it with the context written again with the mark if the run was interrupted; CSV and console output are
// written as they come. The runs wait in an unlinked temporary file, not in memory: a full run's JSON is
// megabytes, and held in this process it would make every later benchmark start from a larger process (and every
// fork copy the page tables of it). Where no temporary file can be made or written, they wait in memory. The
// caller commits `out` after the run.
class file_reporter final : public benchmark::BenchmarkReporter {
public:
    // Around `inner` (not owned), which writes `format`: "json", "csv" or "console"; into `out` (not owned).
    file_reporter(benchmark::BenchmarkReporter& inner, std::string_view format, output_file& out)
        : inner_(&inner), out_(out), json_(format == "json") {}
    ~file_reporter() override;
    file_reporter(const file_reporter&) = delete;
    file_reporter& operator=(const file_reporter&) = delete;

    bool ReportContext(const Context& context) override;
    void ReportRuns(const std::vector<Run>& runs) override;
    void Finalize() override;
    // How many benchmarks it passed on.
    [[nodiscard]] std::size_t finished() const noexcept { return filter_.count(); }

private:
    benchmark::BenchmarkReporter* inner_;
    output_file& out_;
    detail::finished_filter filter_;
    bool json_;
    std::optional<Context> context_;
    // JSON: the inner reporter writes each call's output into chunk_; the context stays in head_, everything
    // after it goes to the spool.
    void spool(std::string_view text);
    template <class Sink>
    void read_back(Sink sink);
    std::ostringstream chunk_;
    std::string head_;
    std::FILE* spool_file_ = nullptr;  // the runs so far, or nullptr once a write failed (or none could be made)
    std::size_t spooled_ = 0;          // bytes in spool_file_, all flushed
    std::string spool_memory_;         // the runs so far where there is no spool_file_
};

}  // namespace parbench::bench::interrupt

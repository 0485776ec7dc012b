// bench_parallel: parses its own flags, registers the matrix for the chosen profile, runs Google Benchmark and
// exits non-zero if any run errored.

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdio>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"
#include "interrupt.hpp"
#include "machine.hpp"
#include "mpi_job.hpp"
#include "options.hpp"
#include "output_file.hpp"
#include "parbench/detail/fd.hpp"
#include "parbench/peers.hpp"
#if defined(PARBENCH_HAS_URING)
#include "parbench/strategies/event_loop_uring.hpp"
#endif
#include "parbench/version.hpp"
#include "parbench/worker_main.hpp"
#include "progress.hpp"

// Google Benchmark 1.7.1 keeps its flags in exported globals that its header does not declare; the final values
// (command line over environment) say whether, and in which format, to write --benchmark_out.
namespace benchmark {
extern std::string FLAGS_benchmark_out;
extern std::string FLAGS_benchmark_out_format;
extern int32_t FLAGS_benchmark_repetitions;
extern bool FLAGS_benchmark_enable_random_interleaving;
}  // namespace benchmark

namespace {

void help() {
    parbench::bench::print_help();
    benchmark::PrintDefaultHelp();
}

std::string compiler() {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

int run(int argc, char** argv, parbench::bench::mpi_job& mpi) {
    namespace pb = parbench::bench;
    try {
        pb::set_current_options(pb::parse_options(argc, argv));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_parallel: %s\n", e.what());
        return 2;
    }
    if (const auto& o = pb::current_options(); o.mpi_deadline)
        mpi.set_run_deadline(*o.mpi_deadline);
    else if (o.worker_deadline_s)
        mpi.set_run_deadline(*o.worker_deadline_s);
    else
        mpi.set_run_deadline(pb::default_mpi_deadline_floor_s, true);
    // The profile's min time and repetitions go in as flags rather than per benchmark: Benchmark::MinTime() would
    // put "/min_time:..." into every name, and names are the key reports and CI history match on.
    std::vector<std::string> profile_flags = pb::profile_flags(pb::current_options());
    std::vector<char*> args;
    args.reserve(static_cast<std::size_t>(argc) + profile_flags.size() + 1);
    args.push_back(argv[0]);
    for (std::string& f : profile_flags) args.push_back(f.data());
    for (int i = 1; i < argc; ++i) args.push_back(argv[i]);
    args.push_back(nullptr);
    argc = static_cast<int>(args.size()) - 1;
    argv = args.data();
    benchmark::Initialize(&argc, argv, help);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    if (const std::string why = pb::filter_problem(benchmark::GetBenchmarkFilter()); !why.empty()) {
        std::fprintf(stderr, "bench_parallel: --benchmark_filter: %s\n", why.c_str());
        return 2;
    }

    const auto& o = pb::current_options();
    benchmark::AddCustomContext("hardware_threads", std::to_string(pb::hardware_threads()));
    benchmark::AddCustomContext("compiler", compiler());
    benchmark::AddCustomContext("build_type", PARBENCH_BUILD_TYPE);
    benchmark::AddCustomContext("parbench_version", parbench::version);
    benchmark::AddCustomContext("parbench_profile", std::string(pb::to_string(o.run_profile)));
    benchmark::AddCustomContext("parbench_peers", parbench::peers_description());
#if defined(PARBENCH_HAS_URING)
    const std::string& no_uring = parbench::strategies::event_loop_uring::unavailable_reason();
    benchmark::AddCustomContext("parbench_io_uring", no_uring.empty() ? "available" : "unavailable: " + no_uring);
#else
    benchmark::AddCustomContext("parbench_io_uring", "not built (no liburing)");
#endif
    // The scale benchmarks hold one descriptor per task in flight, 10,000 in the full profile.
    benchmark::AddCustomContext("descriptor_limit", std::to_string(parbench::detail::raise_descriptor_limit()));
    if (o.wrong_total) benchmark::AddCustomContext("parbench_test_wrong_total", *o.wrong_total);
    if (o.slow)
        benchmark::AddCustomContext("parbench_test_slowdown", o.slow->kernel + ":" + std::to_string(o.slow->fraction));

    try {
        pb::register_families();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_parallel: %s\n", e.what());
        return 2;
    }
    if (o.list_only) {
        const std::size_t listed = benchmark::RunSpecifiedBenchmarks();
        benchmark::Shutdown();
        return listed == 0 ? 1 : 0;
    }
    // The output file is made now, so that a path that cannot be written is refused before anything runs. Google
    // Benchmark, which would truncate the target at once, gets /dev/null instead; the results go through `out`.
    const std::string out_path = benchmark::FLAGS_benchmark_out;
    pb::output_file out;
    if (!out_path.empty()) {
        if (!out.open(out_path)) {
            std::fprintf(stderr, "bench_parallel: --benchmark_out: %s\n", out.error().c_str());
            return 2;
        }
        benchmark::FLAGS_benchmark_out = "/dev/null";
    }
    pb::warn_about_noise(stderr, PARBENCH_BUILD_TYPE);
    // Under a thread or memory limit the warm-up is left out: a strategy's warm-up could not start its threads
    // either, and OpenMP's runtime ends the process when it cannot (docs/hostile_input.md).
    if (const unsigned want = 2 * pb::hardware_threads(), got = pb::warm_thread_caches(want); got == want)
        pb::run_start();
    else
        std::fprintf(stderr,
                     "bench_parallel: warning: could start only %u of %u threads (a thread or memory limit?): going "
                     "on without the warm-up\n",
                     got, want);
    pb::run_settings settings;
    settings.progress = ::isatty(STDERR_FILENO) == 1;
    settings.compact = pb::profile_repeats(o);
    settings.repetitions = benchmark::FLAGS_benchmark_repetitions;
    settings.interleaved = benchmark::FLAGS_benchmark_enable_random_interleaving;
    settings.out_path = out_path;
    settings.out_format = benchmark::FLAGS_benchmark_out_format;
    if (settings.progress) settings.planned = pb::planned_benchmarks();
    // The interrupt reporters outside (they drop what a stop cut short), the run reporter inside them.
    pb::run_reporter reporter(std::move(settings));
    namespace interrupt = pb::interrupt;
    interrupt::install();
    interrupt::display_reporter display(*reporter.display());
    std::unique_ptr<interrupt::file_reporter> file;
    if (reporter.file() != nullptr)
        file = std::make_unique<interrupt::file_reporter>(*reporter.file(), benchmark::FLAGS_benchmark_out_format, out);
    const std::size_t ran = benchmark::RunSpecifiedBenchmarks(&display, file.get());
    benchmark::Shutdown();
    // A write that failed leaves the previous file as it was; the console table has every result.
    const bool written = !file || out.commit();
    if (!written)
        std::fprintf(stderr,
                     "bench_parallel: --benchmark_out: %s (the previous file is unchanged; the table on standard "
                     "output holds the results)\n",
                     out.error().c_str());
    if (const int sig = interrupt::requested(); sig != 0) {
        const std::size_t kept = file ? file->finished() : display.finished();
        std::fprintf(stderr, "bench_parallel: interrupted by %s after %zu finished benchmark%s%s%s\n",
                     interrupt::signal_name(sig).c_str(), kept, kept == 1 ? "" : "s",
                     file && written ? ", kept in " : "", file && written ? out_path.c_str() : "");
        return 128 + sig;
    }
    if (!written) return 3;
    if (ran != 0) reporter.print_summary(stderr, pb::next_command(out_path, benchmark::FLAGS_benchmark_out_format));
    if (ran == 0) {
        std::fprintf(stderr, "bench_parallel: no benchmark matched --benchmark_filter='%s'\n",
                     benchmark::GetBenchmarkFilter().c_str());
        return 1;
    }
    if (pb::any_error()) {
        std::fprintf(stderr, "bench_parallel: at least one run errored (see ERROR OCCURRED above)\n");
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    parbench::bench::fill_standard_descriptors();  // before any file is opened
    parbench::worker_main(argc, argv);             // processes.spawn and processes.forkserver start this program afresh
    parbench::bench::mpi_job mpi(argc, argv);      // under mpirun, ranks other than 0 serve rank 0
    if (!mpi.is_root()) return mpi.serve();
    return mpi.finish(run(argc, argv, mpi));
}

// libFuzzer target for bench_parallel's hostile edges: its command line (options.cpp) and the JSON it writes
// (interrupt.cpp's file reporter over Google Benchmark's JSON reporter). The first input byte picks the half:
//   even: the rest is a command line, arguments separated by NUL bytes. parse_options must return options that
//         hold its invariants or throw std::invalid_argument; anything else (another exception, a crash) is a find.
//   odd:  the rest drives benchmark runs with arbitrary names, labels, error messages, counters and doubles, and
//         the file reporter's output must be one JSON value (json_check.hpp) with one entry per run.
// Build and run: fuzz/run.sh [SECONDS] (docs/hostile_input.md).

#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "interrupt.hpp"
#include "json_check.hpp"
#include "options.hpp"
#include "output_file.hpp"
#include "parbench/error.hpp"

namespace {

namespace pb = parbench::bench;

[[noreturn]] void found(const std::string& what) {
    std::fprintf(stderr, "parbench_fuzz: %s\n", what.c_str());
    std::abort();
}

void command_line(std::string_view input) {
    std::vector<std::string> args{"bench_parallel"};
    for (std::size_t at = 0; at <= input.size();) {
        const std::size_t end = std::min(input.find('\0', at), input.size());
        args.emplace_back(input.substr(at, end - at));
        at = end + 1;
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int argc = static_cast<int>(args.size());
    pb::options o;
    try {
        o = pb::parse_options(argc, argv.data());
    } catch (const std::invalid_argument& e) {
        for (const char c : std::string_view(e.what()))
            if (static_cast<unsigned char>(c) < 0x20)
                found("a refusal that is not one line of text: " + std::string(e.what()));
        return;
    }
    if (argc < 1 || argc > static_cast<int>(args.size()) || argv[static_cast<std::size_t>(argc)] != nullptr)
        found("argc/argv not left as a command line");
    for (int i = 1; i < argc; ++i)
        if (std::string_view(argv[static_cast<std::size_t>(i)]).starts_with("--parbench_"))
            found("a --parbench_ flag left for Google Benchmark");
    if (o.workers) {
        auto w = *o.workers;
        std::sort(w.begin(), w.end());
        if (w.empty() || w.front() < 1 || w.back() > parbench::max_workers ||
            std::adjacent_find(w.begin(), w.end()) != w.end())
            found("a worker list that is empty, out of range or with a repeat");
    }
    if (o.slow && !(o.slow->fraction >= 0.0 && o.slow->fraction <= 10.0)) found("a slowdown out of [0, 10]");
}

double any_double(FuzzedDataProvider& in) { return std::bit_cast<double>(in.ConsumeIntegral<std::uint64_t>()); }

void json_output(FuzzedDataProvider& in) {
    using Run = benchmark::BenchmarkReporter::Run;
    std::vector<Run> runs(in.ConsumeIntegralInRange<std::size_t>(0, 5));
    for (Run& r : runs) {
        r.run_name.function_name = in.ConsumeRandomLengthString(40);
        r.run_name.args = in.ConsumeRandomLengthString(12);
        r.family_index = in.ConsumeIntegral<std::int64_t>();
        r.per_family_instance_index = in.ConsumeIntegral<std::int64_t>();
        r.run_type = in.ConsumeBool() ? Run::RT_Aggregate : Run::RT_Iteration;
        r.aggregate_name = in.ConsumeRandomLengthString(12);
        r.aggregate_unit = in.ConsumeBool() ? benchmark::kTime : benchmark::kPercentage;
        r.error_occurred = in.ConsumeBool();
        r.error_message = in.ConsumeRandomLengthString(60);
        r.report_label = in.ConsumeRandomLengthString(20);
        r.iterations = in.ConsumeIntegral<benchmark::IterationCount>();
        r.threads = in.ConsumeIntegral<std::int64_t>();
        r.repetition_index = in.ConsumeIntegral<std::int64_t>();
        r.repetitions = in.ConsumeIntegral<std::int64_t>();
        r.time_unit = in.PickValueInArray(
            {benchmark::kNanosecond, benchmark::kMicrosecond, benchmark::kMillisecond, benchmark::kSecond});
        r.real_accumulated_time = any_double(in);
        r.cpu_accumulated_time = any_double(in);
        r.report_big_o = in.ConsumeBool();
        r.report_rms = !r.report_big_o && in.ConsumeBool();
        r.complexity = in.PickValueInArray({benchmark::oNone, benchmark::o1, benchmark::oN, benchmark::oNSquared,
                                            benchmark::oNCubed, benchmark::oLogN, benchmark::oNLogN, benchmark::oAuto,
                                            benchmark::oLambda});
        for (int c = in.ConsumeIntegralInRange(0, 3); c > 0; --c)
            r.counters[in.ConsumeRandomLengthString(16)] = benchmark::Counter(any_double(in));
    }
    // The interrupted path too: the context written again with its mark.
    const int sig = in.ConsumeBool() ? in.ConsumeIntegralInRange(1, 64) : 0;
    pb::interrupt::detail::g_requested.store(sig);

    // The reporter writes through an output_file, as bench_parallel's does, here on tmpfs (its commit fsyncs).
    static const std::string path = "/dev/shm/parbench-fuzz-" + std::to_string(::getpid()) + ".json";
    pb::output_file file;
    if (!file.open(path)) found("cannot make the output file: " + file.error());
    benchmark::JSONReporter inner;
    const auto reporter = std::make_unique<pb::interrupt::file_reporter>(inner, "json", file);
    std::ostringstream ignored;  // what Google Benchmark would point at the --benchmark_out stream
    reporter->SetOutputStream(&ignored);
    reporter->SetErrorStream(&ignored);
    benchmark::BenchmarkReporter::Context context;
    context.name_field_width = 10;
    reporter->ReportContext(context);
    for (std::size_t at = 0; at < runs.size();) {  // in batches, as the library reports them
        const std::size_t n = in.ConsumeIntegralInRange<std::size_t>(1, runs.size() - at);
        reporter->ReportRuns(
            {runs.begin() + static_cast<std::ptrdiff_t>(at), runs.begin() + static_cast<std::ptrdiff_t>(at + n)});
        at += n;
    }
    reporter->Finalize();
    pb::interrupt::detail::g_requested.store(0);
    if (!file.commit()) found("the output file was not written: " + file.error());
    std::ifstream written(path);
    const std::string text((std::istreambuf_iterator<char>(written)), std::istreambuf_iterator<char>());
    std::remove(path.c_str());
    if (const std::string bad = parbench::fuzz::json_check::error(text); !bad.empty())
        found("the file reporter wrote invalid JSON (" + bad + "):\n" + text);
    std::size_t entries = 0;
    for (std::size_t at = 0; (at = text.find("\n    {\n", at)) != std::string::npos; ++at) ++entries;
    if (entries != runs.size())
        found("the file holds " + std::to_string(entries) + " runs of " + std::to_string(runs.size()));
    if (sig != 0 && text.find("\"parbench_interrupted\": ") == std::string::npos) found("an interrupted run unmarked");

    // json_safe alone, on a string escaped as Google Benchmark escapes them: any bytes in, a valid JSON string out,
    // and a string that was valid already passes unchanged.
    std::string quoted = "\"";
    for (const char c : in.ConsumeRemainingBytesAsString()) {
        const std::string_view from = "\b\f\n\r\t\\\"", to = "bfnrt\\\"";
        const std::size_t k = from.find(c);
        if (k == std::string_view::npos) {
            quoted += c;
        } else {
            quoted += '\\';
            quoted += to[k];
        }
    }
    quoted += '"';
    const std::string safe = pb::interrupt::detail::json_safe(quoted);
    if (const std::string bad = parbench::fuzz::json_check::error(safe); !bad.empty())
        found("json_safe left an invalid string (" + bad + ")");
    if (parbench::fuzz::json_check::error(quoted).empty() && safe != quoted) found("json_safe changed a valid string");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    if (data[0] % 2 == 0) {
        command_line(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
    } else {
        FuzzedDataProvider in(data + 1, size - 1);
        json_output(in);
    }
    return 0;
}

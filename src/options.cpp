#include "options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#include "parbench/error.hpp"

namespace parbench::bench {
namespace {

options g_options;

// A value from the command line, quoted for a one-line message: control characters are written as escapes.
std::string quoted(std::string_view v) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out = "'";
    for (const char ch : v) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c != 0x7f) {
            out += ch;
        } else {
            out += c == '\n' ? "\\n" : c == '\t' ? "\\t" : std::string{'\\', 'x', hex[c >> 4], hex[c & 15]};
        }
    }
    return out + "'";
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// "--name=value" -> value, if arg is that flag.
std::optional<std::string_view> value_of(std::string_view arg, std::string_view name) {
    if (!starts_with(arg, name) || arg.size() <= name.size() || arg[name.size()] != '=') return std::nullopt;
    return arg.substr(name.size() + 1);
}

profile parse_profile(std::string_view v) {
    if (v == "quick") return profile::quick;
    if (v == "default") return profile::default_;
    if (v == "full") return profile::full;
    throw std::invalid_argument("--parbench_profile must be quick, default or full, got " + quoted(v));
}

// v as an unsigned number in [lo, hi]; else std::invalid_argument "<flag>: 'v' is not <what> in [lo, hi]".
unsigned parse_unsigned(std::string_view v, std::string_view flag, std::string_view what, unsigned lo, unsigned hi) {
    unsigned out = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc{} || end != v.data() + v.size() || out < lo || out > hi)
        throw std::invalid_argument(std::string(flag) + ": " + quoted(v) + " is not " + std::string(what) + " in [" +
                                    std::to_string(lo) + ", " + std::to_string(hi) + "]");
    return out;
}

std::vector<unsigned> parse_workers(std::string_view v) {
    std::vector<unsigned> out;
    while (!v.empty()) {
        const auto comma = v.find(',');
        const unsigned w = parse_unsigned(v.substr(0, comma), "--parbench_workers", "a worker count", 1, max_workers);
        // Twice the same count would register every benchmark twice under one name.
        if (std::find(out.begin(), out.end(), w) != out.end())
            throw std::invalid_argument("--parbench_workers: " + std::to_string(w) + " is given twice");
        out.push_back(w);
        v = comma == std::string_view::npos ? std::string_view{} : v.substr(comma + 1);
    }
    if (out.empty()) throw std::invalid_argument("--parbench_workers needs a list such as 1,2,4");
    return out;
}

constexpr unsigned max_fork_parent_mib = 65536;

slowdown parse_slowdown(std::string_view v) {
    const auto colon = v.find(':');
    if (colon == std::string_view::npos || colon == 0)
        throw std::invalid_argument("--parbench_test_slowdown takes KERNEL:FRACTION, e.g. count:0.10");
    slowdown s{std::string(v.substr(0, colon)), 0.0};
    const auto f = v.substr(colon + 1);
    const auto [end, ec] = std::from_chars(f.data(), f.data() + f.size(), s.fraction);
    if (ec != std::errc{} || end != f.data() + f.size() || !(s.fraction >= 0.0 && s.fraction <= 10.0))
        throw std::invalid_argument("--parbench_test_slowdown: fraction " + quoted(f) + " must be a number in [0, 10]");
    return s;
}

// Google Benchmark's numeric flags, checked before the library sees them. Left to it, a value that does not
// parse is reported twice (as a bad value, then as an unknown flag), and a repetition count below 1 runs nothing
// (0) or aborts the process (-1); so does one in BENCHMARK_REPETITIONS, which the library reads as a default.
constexpr int max_repetitions = 100000;

double check_seconds(std::string_view v, std::string_view flag) {
    double seconds = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
    if (ec != std::errc{} || end != v.data() + v.size() || !std::isfinite(seconds) || seconds < 0)
        throw std::invalid_argument(std::string(flag) + ": " + quoted(v) + " is not a number of seconds >= 0");
    return seconds;
}

void check_repetitions(std::string_view v, std::string_view flag) {
    int n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (ec != std::errc{} || end != v.data() + v.size() || n < 1 || n > max_repetitions)
        throw std::invalid_argument(std::string(flag) + ": " + quoted(v) + " is not a repetition count in [1, " +
                                    std::to_string(max_repetitions) + "]");
}

void check_benchmark_flag(std::string_view arg) {
    if (auto t = value_of(arg, "--benchmark_min_time"))
        check_seconds(*t, "--benchmark_min_time");
    else if (auto w = value_of(arg, "--benchmark_min_warmup_time"))
        check_seconds(*w, "--benchmark_min_warmup_time");
    else if (auto r = value_of(arg, "--benchmark_repetitions"))
        check_repetitions(*r, "--benchmark_repetitions");
}

}  // namespace

std::string_view to_string(profile p) noexcept {
    switch (p) {
        case profile::quick: return "quick";
        case profile::default_: return "default";
        case profile::full: return "full";
    }
    return "default";
}

precision precision_of(profile p) noexcept {
    switch (p) {
        // Short repetitions, interleaved at random over the run, so that the fastest of them meet the machine
        // undisturbed (tools/parbench/estimate.py). quick: a smoke run with a rough interval. default: a first
        // pass over every configuration that leaves the bench workflow's further passes (src/run_benchmarks.cmake)
        // time to measure again what is undecided, within five minutes on 2 CPUs (docs/results.md, "Whole run").
        // full: more.
        case profile::quick: return {0.005, 2};
        case profile::default_: return {0.005, 3};
        case profile::full: return {0.02, 10};
    }
    return {};
}

bool profile_repeats(const options& o) {
    return !o.repetitions_given && !o.min_time_given && precision_of(o.run_profile).repetitions > 1;
}

std::vector<std::string> profile_flags(const options& o) {
    const precision p = precision_of(o.run_profile);
    std::vector<std::string> flags;
    if (!o.min_time_given) flags.push_back("--benchmark_min_time=" + std::to_string(p.min_time));
    if (profile_repeats(o)) {
        flags.push_back("--benchmark_repetitions=" + std::to_string(p.repetitions));
        if (!o.aggregates_given) flags.emplace_back("--benchmark_display_aggregates_only=true");
    }
    if (!o.interleaving_given) flags.emplace_back("--benchmark_enable_random_interleaving=true");
    return flags;
}

options parse_options(int& argc, char** argv) {
    options o;
    if (const char* env = std::getenv("BENCHMARK_REPETITIONS")) check_repetitions(env, "BENCHMARK_REPETITIONS");
    int kept = 1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        check_benchmark_flag(arg);
        if (starts_with(arg, "--benchmark_min_time")) o.min_time_given = true;
        if (starts_with(arg, "--benchmark_repetitions")) o.repetitions_given = true;
        if (starts_with(arg, "--benchmark_enable_random_interleaving")) o.interleaving_given = true;
        if (starts_with(arg, "--benchmark_display_aggregates_only") ||
            starts_with(arg, "--benchmark_report_aggregates_only"))
            o.aggregates_given = true;
        if (arg == "--benchmark_list_tests" || arg == "--benchmark_list_tests=true" ||
            arg == "--benchmark_list_tests=1")
            o.list_only = true;
        if (auto v = value_of(arg, "--benchmark_out")) o.out_path = std::string(*v);
        if (auto v = value_of(arg, "--benchmark_out_format")) o.out_format = std::string(*v);
        if (!starts_with(arg, "--parbench_")) {
            argv[kept++] = argv[i];
            continue;
        }
        if (auto v = value_of(arg, "--parbench_profile"))
            o.run_profile = parse_profile(*v);
        else if (auto w = value_of(arg, "--parbench_workers"))
            o.workers = parse_workers(*w);
        else if (auto m = value_of(arg, "--parbench_fork_parent_mib"))
            o.fork_parent_mib =
                parse_unsigned(*m, "--parbench_fork_parent_mib", "a size in MiB", 0, max_fork_parent_mib);
        else if (auto d = value_of(arg, "--parbench_mpi_deadline")) {
            o.mpi_deadline = check_seconds(*d, "--parbench_mpi_deadline");
        } else if (auto wd = value_of(arg, "--parbench_worker_deadline")) {
            o.worker_deadline_s =
                parse_unsigned(*wd, "--parbench_worker_deadline", "a time in seconds", 1, max_worker_deadline_s);
        } else if (auto k = value_of(arg, "--parbench_test_wrong_total"))
            o.wrong_total = std::string(*k);
        else if (auto s = value_of(arg, "--parbench_test_slowdown"))
            o.slow = parse_slowdown(*s);
        else
            throw std::invalid_argument("unknown flag " + quoted(arg) + " (see --help)");
    }
    argc = kept;
    argv[argc] = nullptr;
    return o;
}

void print_help() {
    std::puts(
        "bench_parallel: how the ways of running work in parallel compare on this machine.\n"
        "\n"
        "parbench flags:\n"
        "  --parbench_profile=quick|default|full  sweep and precision: quick (a smoke run, < 45 s on 2 cores,\n"
        "                                         2 repetitions), default (a person's run, < 5 min on 2 cores,\n"
        "                                         3 repetitions), full (long, 10 repetitions); repetitions are\n"
        "                                         interleaved at random over the run unless\n"
        "                                         --benchmark_enable_random_interleaving is given\n"
        "  --parbench_workers=W[,W...]            worker counts instead of the machine-sized sweep\n"
        "  --parbench_fork_parent_mib=M           benchmarks that fork this process while timed fork it with its\n"
        "                                         anonymous memory topped up to M MiB (default 4; 0: as it is),\n"
        "                                         so a fork costs the same whatever ran before (parent_anon)\n"
        "  --parbench_worker_deadline=S           a run that waits on its workers gives up after S seconds: on\n"
        "                                         worker processes it names the worker, its pid and its state;\n"
        "                                         under mpirun it ends the job, naming the ranks (a stopped rank\n"
        "                                         never answers). Default: 10 x the slowest run so far, at least\n"
        "                                         30 s (processes) or 60 s (MPI ranks)\n"
        "  --parbench_mpi_deadline=S              the older flag for MPI ranks alone: S seconds, 0: no deadline\n"
        "  --parbench_test_wrong_total=KERNEL     test knob: KERNEL drops its last element (the run must error)\n"
        "  --parbench_test_slowdown=KERNEL:F      test knob: KERNEL (* for every kernel) takes (1+F) times as long\n"
        "\n"
        "Names are <kernel>/<strategy>/workers:<W>/n:<N>/real_time; select with --benchmark_filter=REGEX.\n"
        "Runs with more workers than CPUs are labelled oversubscribed; benchmarks whose fastest repetitions\n"
        "disagree by more than 30% are labelled wide. rss_at_start is the resident size each benchmark started from.\n"
        "On a terminal, stderr shows a progress line; every run ends with a summary there.\n"
        "The exit status is non-zero if any run errored (wrong total, failed worker) or a flag is unknown.\n"
        "\n"
        "Google Benchmark flags:");
}

std::string filter_problem(std::string_view filter) {
    if (filter.size() > max_filter_length)
        return "the filter is " + std::to_string(filter.size()) + " characters long; at most " +
               std::to_string(max_filter_length) + " are taken";
    std::size_t depth = 0, deepest = 0;
    for (std::size_t i = 0; i < filter.size(); ++i) {
        if (filter[i] == '\\') {
            ++i;                        // an escaped character is a literal
        } else if (filter[i] == '[') {  // a bracket expression: ']' right after '[' or '[^' is a literal
            i += filter.compare(i, 2, "[^") == 0 ? 2u : 1u;
            i = filter.find(']', i + 1);
            if (i == std::string_view::npos) break;
        } else if (filter[i] == '(') {
            deepest = std::max(deepest, ++depth);
        } else if (filter[i] == ')' && depth > 0) {
            --depth;
        }
    }
    if (deepest > max_filter_depth)
        return "the filter nests " + std::to_string(deepest) + " groups deep; at most " +
               std::to_string(max_filter_depth) + " are taken";
    return {};
}

const options& current_options() { return g_options; }
void set_current_options(options o) { g_options = std::move(o); }

}  // namespace parbench::bench

#include "progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string_view>
#include <utility>

#include "estimate.hpp"
#include "machine.hpp"

// Google Benchmark 1.7 defines its flags as globals in namespace benchmark without declaring them in its header;
// planned_benchmarks() sets this one for a moment to list the benchmarks without running them.
namespace benchmark {
extern bool FLAGS_benchmark_list_tests;
}

namespace parbench::bench {
namespace {

using clock_type = std::chrono::steady_clock;
using run = benchmark::BenchmarkReporter::Run;

enum class role { display, file };

void add_label(std::string& label, std::string_view word) {
    if (!label.empty()) label += ' ';
    label += word;
}

// The repetitions' coefficient of variation: from their own times where the reporter got them, else from the
// mean and stddev aggregates. Nothing for a single repetition.
std::optional<double> spread(const std::vector<run>& reports) {
    std::vector<double> times;
    const run* mean = nullptr;
    const run* stddev = nullptr;
    for (const run& r : reports) {
        if (r.run_type == run::RT_Iteration && !r.error_occurred) times.push_back(r.GetAdjustedRealTime());
        if (r.run_type == run::RT_Aggregate && r.aggregate_name == "mean") mean = &r;
        if (r.run_type == run::RT_Aggregate && r.aggregate_name == "stddev") stddev = &r;
    }
    if (times.size() >= 2) {
        double sum = 0;
        for (const double t : times) sum += t;
        const double m = sum / static_cast<double>(times.size());
        double sq = 0;
        for (const double t : times) sq += (t - m) * (t - m);
        if (m <= 0) return std::nullopt;
        return std::sqrt(sq / static_cast<double>(times.size() - 1)) / m;
    }
    if (mean != nullptr && stddev != nullptr && mean->GetAdjustedRealTime() > 0)
        return stddev->GetAdjustedRealTime() / mean->GetAdjustedRealTime();
    return std::nullopt;
}

// A matrix benchmark's name, <kernel>/<strategy>/workers:W/n:N/real_time, read; nullopt for any other name.
struct matrix_point {
    std::string kernel, strategy;
    unsigned workers = 0;
    unsigned long long n = 0;
};
std::optional<matrix_point> parse_matrix_name(const std::string& name) {
    matrix_point p;
    char kernel[128], strategy[128];
    if (std::sscanf(name.c_str(), "%127[^/]/%127[^/]/workers:%u/n:%llu/real_time", kernel, strategy, &p.workers,
                    &p.n) != 4 ||
        name.size() < 10 || name.compare(name.size() - 10, 10, "/real_time") != 0)
        return std::nullopt;
    p.kernel = kernel;
    p.strategy = strategy;
    return p;
}

// W of a matrix benchmark's name, else 1.
unsigned workers_of(const std::string& name) {
    const auto p = parse_matrix_name(name);
    return p && p->workers > 0 ? p->workers : 1;
}

std::string clock_text(double seconds) {
    const long s = std::lround(std::max(seconds, 0.0));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
    return buf;
}

unsigned terminal_width() {
    winsize ws{};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) return ws.ws_col;
    return 80;
}

// The speedups at each kernel's largest n, at as many workers as CPUs: what the report's recommendation weighs,
// computed the same way (estimate.hpp), from the same repetitions: matched by the CPUs' state where both sides
// have repetitions, else from the benchmarks' estimates (aggregates only).
void print_speedups(std::FILE* to, const std::map<std::string, std::vector<estimate::repetition>>& samples,
                    const std::map<std::string, estimate>& times) {
    std::vector<double> probes;
    for (const auto& [name, reps] : samples)
        for (const auto& r : reps) probes.push_back(r.probe_best_ns);
    const double reference = estimate::calm_reference(std::move(probes));
    const auto speedup = [&](const std::string& base, const std::string& name) -> std::optional<estimate> {
        const auto b = samples.find(base), t = samples.find(name);
        if (b != samples.end() && t != samples.end() && !b->second.empty() && !t->second.empty())
            return estimate::matched_speedup(b->second, t->second, reference);
        const auto bt = times.find(base), tt = times.find(name);
        if (bt == times.end() || tt == times.end()) return std::nullopt;
        return estimate::speedup_of(bt->second, tt->second);
    };
    std::map<std::string, unsigned long long> largest;
    for (const auto& [name, time] : times)
        if (const auto p = parse_matrix_name(name); p && p->strategy == "sequential")
            largest[p->kernel] = std::max(largest[p->kernel], p->n);
    const unsigned cpus = hardware_threads();
    for (const auto& [kernel, n] : largest) {
        const std::string at = "/n:" + std::to_string(n) + "/real_time";
        const std::string base = kernel + "/sequential/workers:1" + at;
        if (times.find(base) == times.end()) continue;
        std::string line;
        for (const auto& [name, time] : times) {
            const auto p = parse_matrix_name(name);
            if (!p || p->kernel != kernel || p->n != n || p->workers != cpus || p->strategy == "sequential") continue;
            const auto e = speedup(base, name);
            if (!e) continue;
            char buf[200];
            std::snprintf(buf, sizeof buf, "%s%s %.2f× [%.2f, %.2f]", line.empty() ? "" : ", ", p->strategy.c_str(),
                          e->value, e->low, e->high);
            line += buf;
        }
        if (!line.empty())
            std::fprintf(to, "bench_parallel: speedup, %s at n = %llu, %u workers: %s\n", kernel.c_str(), n, cpus,
                         line.c_str());
    }
}

}  // namespace

// The reporter of the run in progress, for note_repetition (benchmarks run on the main thread, as the reporters do).
static run_reporter::state* g_active = nullptr;

struct run_reporter::state {
    run_settings settings;
    std::unique_ptr<benchmark::BenchmarkReporter> display;
    std::unique_ptr<benchmark::BenchmarkReporter> file;
    clock_type::time_point start = clock_type::now();

    std::string current;           // the benchmark whose results are coming in
    std::int64_t current_rss = 0;  // the resident size it started from
    std::optional<double> current_cv;
    std::int64_t settled_rss = 0;  // the resident size after the last settle: the next benchmark's start
    std::size_t done = 0;
    std::vector<std::string> errored;
    std::vector<std::string> wide;
    // Every benchmark's repetitions (time and probes), for the summary.
    std::map<std::string, std::vector<estimate::repetition>> samples;
    std::map<std::string, estimate> aggregated;  // the estimates of those reported as aggregates only
    bool line_shown = false;
    std::size_t calls = 0;           // benchmark calls so far (note_repetition): repetitions and GB's trials
    clock_type::time_point drawn{};  // when the live line was last drawn

    [[nodiscard]] double elapsed() const { return std::chrono::duration<double>(clock_type::now() - start).count(); }

    void clear_line() {
        if (!line_shown) return;
        std::fputs("\r\x1b[K", stderr);
        std::fflush(stderr);
        line_shown = false;
    }

    void draw_line() {
        if (!settings.progress) return;
        const std::size_t total = std::max(settings.planned.size(), done);
        const double t = elapsed();
        char head[96];
        std::snprintf(head, sizeof head, "[%zu/%zu] %s", done, total, clock_text(t).c_str());
        std::string line = head;
        // Interleaved, a benchmark is reported only after its last repetition, late in the run: the time left
        // follows the calls made (each repetition, and Google Benchmark's trials before the first) instead.
        const double planned_calls =
            static_cast<double>(settings.planned.size()) * static_cast<double>(settings.repetitions + 1);
        if (settings.interleaved && calls > 0 && planned_calls > static_cast<double>(calls)) {
            line += ", ~";
            line += clock_text(t / static_cast<double>(calls) * (planned_calls - static_cast<double>(calls)));
            line += " left";
        } else if (!settings.interleaved && done > 0 && done < total) {
            line += ", ~";
            line += clock_text(t / static_cast<double>(done) * static_cast<double>(total - done));
            line += " left";
        }
        drawn = clock_type::now();
        if (!settings.interleaved && done < settings.planned.size()) {
            line += "  ";
            line += settings.planned[done];
        }
        const std::size_t width = terminal_width() - 1;
        if (line.size() > width) line.resize(width);
        std::fputs("\r\x1b[K", stderr);
        std::fputs(line.c_str(), stderr);
        std::fflush(stderr);
        line_shown = true;
    }

    bool context(role r, const benchmark::BenchmarkReporter::Context& c, benchmark::BenchmarkReporter& inner) {
        if (r == role::display) clear_line();
        const bool ok = inner.ReportContext(c);
        inner.GetOutputStream().flush();
        settled_rss = settle_process();
        if (r == role::display) draw_line();
        return ok;
    }

    void runs(role r, const std::vector<run>& reports, benchmark::BenchmarkReporter& inner) {
        if (reports.empty()) return inner.ReportRuns(reports);
        const std::string name = reports.front().run_name.str();
        if (name != current) {
            current = name;
            current_rss = settled_rss;
            current_cv.reset();
            ++done;
        }
        if (!current_cv) current_cv = spread(reports);
        std::vector<double> times;
        for (const run& x : reports)
            if (x.run_type == run::RT_Iteration && !x.error_occurred) times.push_back(x.GetAdjustedRealTime());
        const auto time = estimate::of_time(times);
        const bool is_wide = times.size() >= 2 && time && time->is_wide();

        std::vector<run> out = reports;
        for (run& x : out) {
            if (x.run_type == run::RT_Iteration || x.aggregate_name == "mean" || x.aggregate_name == "median")
                x.counters["rss_at_start"] = benchmark::Counter(
                    static_cast<double>(current_rss), benchmark::Counter::kDefaults, benchmark::Counter::OneK::kIs1024);
            if (is_wide) add_label(x.report_label, "wide");
            // The cv of a counter whose mean is 0 is 0/0; Google Benchmark would write NaN, which is not JSON.
            for (auto it = x.counters.begin(); it != x.counters.end();)
                it = std::isfinite(it->second.value) ? std::next(it) : x.counters.erase(it);
        }
        if (r == role::file || file == nullptr) record(name, out, is_wide);
        if (r == role::display) {
            if (settings.compact) out = compact(out);
            clear_line();
        }
        inner.ReportRuns(out);
        inner.GetOutputStream().flush();
        settled_rss = settle_process();
        if (r == role::display) draw_line();
    }

    void finalize(role r, benchmark::BenchmarkReporter& inner) {
        if (r == role::display) clear_line();
        inner.Finalize();
        inner.GetOutputStream().flush();
    }

    void record(const std::string& name, const std::vector<run>& out, bool is_wide) {
        const bool failed = std::any_of(out.begin(), out.end(), [](const run& x) { return x.error_occurred; });
        if (failed && (errored.empty() || errored.back() != name)) errored.push_back(name);
        if (is_wide && (wide.empty() || wide.back() != name)) wide.push_back(name);
        if (failed) return;
        auto& all = samples[name];
        const auto counter = [](const run& x, const char* key) {
            const auto it = x.counters.find(key);
            return it == x.counters.end() ? 0.0 : it->second.value;
        };
        for (const run& x : out)
            if (x.run_type == run::RT_Iteration)
                all.push_back(
                    {x.GetAdjustedRealTime(), counter(x, "probe_ns"), counter(x, "probe_best_ns"),
                     counter(x, "utilisation"), counter(x, "probe_bound_ns"), workers_of(name),
                     x.iterations > 0 ? x.real_accumulated_time * 1e9 / static_cast<double>(x.iterations) : 0.0});
        estimate e;
        for (const run& x : out) {
            if (x.run_type != run::RT_Aggregate) continue;
            if (x.aggregate_name == "fastest") e.value = x.GetAdjustedRealTime();
            if (x.aggregate_name == "fastest_low") e.low = x.GetAdjustedRealTime();
            if (x.aggregate_name == "fastest_high") e.high = x.GetAdjustedRealTime();
        }
        if (e.low > 0 && e.low <= e.value && e.value <= e.high) aggregated[name] = e;
    }

    // The median line alone, labelled with the spread; everything when there are no aggregates (one repetition,
    // or every repetition failed).
    [[nodiscard]] std::vector<run> compact(const std::vector<run>& out) const {
        for (const run& x : out) {
            if (x.run_type != run::RT_Aggregate || x.aggregate_name != "median") continue;
            run median = x;
            if (current_cv) {
                char buf[32];
                std::snprintf(buf, sizeof buf, "cv=%.1f%%", *current_cv * 100.0);
                add_label(median.report_label, buf);
            }
            return {median};
        }
        return out;
    }
};

namespace {

class forwarding final : public benchmark::BenchmarkReporter {
public:
    forwarding(run_reporter::state& s, std::unique_ptr<BenchmarkReporter> inner, role r)
        : state_(s), inner_(std::move(inner)), role_(r) {}

    bool ReportContext(const Context& context) override {
        // Google Benchmark points this reporter's streams at the output file; the inner one writes there too.
        inner_->SetOutputStream(&GetOutputStream());
        inner_->SetErrorStream(&GetErrorStream());
        return state_.context(role_, context, *inner_);
    }
    void ReportRuns(const std::vector<Run>& reports) override { state_.runs(role_, reports, *inner_); }
    void Finalize() override { state_.finalize(role_, *inner_); }

private:
    run_reporter::state& state_;
    std::unique_ptr<BenchmarkReporter> inner_;
    role role_;
};

std::unique_ptr<benchmark::BenchmarkReporter> file_reporter_for(const std::string& format) {
    if (format == "console") return std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_None);
    BENCHMARK_DISABLE_DEPRECATED_WARNING  // Google Benchmark still writes CSV when asked to
        if (format == "csv") return std::make_unique<benchmark::CSVReporter>();
    BENCHMARK_RESTORE_DEPRECATED_WARNING
    return std::make_unique<benchmark::JSONReporter>();
}

}  // namespace

run_reporter::run_reporter(run_settings settings) : state_(std::make_unique<state>()) {
    state_->settings = std::move(settings);
    g_active = state_.get();
    state_->display = std::make_unique<forwarding>(
        *state_, std::unique_ptr<benchmark::BenchmarkReporter>(benchmark::CreateDefaultDisplayReporter()),
        role::display);
    if (!state_->settings.out_path.empty())
        state_->file =
            std::make_unique<forwarding>(*state_, file_reporter_for(state_->settings.out_format), role::file);
}

run_reporter::~run_reporter() {
    if (g_active == state_.get()) g_active = nullptr;
}

void note_repetition() noexcept {
    run_reporter::state* s = g_active;
    if (s == nullptr) return;
    ++s->calls;
    if (s->settings.progress && clock_type::now() - s->drawn > std::chrono::milliseconds(250)) s->draw_line();
}

benchmark::BenchmarkReporter* run_reporter::display() const { return state_->display.get(); }
benchmark::BenchmarkReporter* run_reporter::file() const { return state_->file.get(); }

void run_reporter::print_summary(std::FILE* to, const std::string& next_command) const {
    const state& s = *state_;
    const double t = s.elapsed();
    std::fprintf(to, "bench_parallel: %zu benchmarks in %s (%.0f s), %zu errored, %zu wide (interval > %.0f%%)\n",
                 s.done, clock_text(t).c_str(), t, s.errored.size(), s.wide.size(), (estimate::wide - 1) * 100.0);
    const auto list = [to](const char* what, const std::vector<std::string>& names) {
        constexpr std::size_t shown = 5;
        for (std::size_t i = 0; i < names.size() && i < shown; ++i)
            std::fprintf(to, "bench_parallel:   %s: %s\n", what, names[i].c_str());
        if (names.size() > shown) std::fprintf(to, "bench_parallel:   ... and %zu more\n", names.size() - shown);
    };
    list("errored", s.errored);
    list("wide", s.wide);
    std::map<std::string, estimate> times;
    for (const auto& [name, e] : s.aggregated) times[name] = e;
    for (const auto& [name, all] : s.samples) {
        std::vector<double> reps;
        for (const auto& r : all) reps.push_back(r.time);
        if (const auto e = estimate::of_time(std::move(reps))) times[name] = *e;  // as the report: repetitions first
    }
    print_speedups(to, s.samples, times);
    if (!s.settings.out_path.empty()) std::fprintf(to, "bench_parallel: results in %s\n", s.settings.out_path.c_str());
    if (!next_command.empty()) std::fprintf(to, "bench_parallel: next: %s\n", next_command.c_str());
}

std::size_t warn_about_noise(std::FILE* to, const std::string& build_type) {
    std::size_t warned = 0;
    const auto warn = [&](const std::string& line) {
        std::fprintf(to, "bench_parallel: warning: %s\n", line.c_str());
        ++warned;
    };
    const unsigned cpus = hardware_threads();
    if (double load[1]{}; ::getloadavg(load, 1) == 1 && load[0] > 0.3 * cpus) {
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "load average %.2f is above 0.3 x %u CPUs: other work shares the CPUs, figures will be noisy",
                      load[0], cpus);
        warn(buf);
    }
    for (unsigned cpu = 0; cpu < std::max(cpus, 1u); ++cpu) {
        std::ifstream in("/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/cpufreq/scaling_governor");
        std::string governor;
        if (in >> governor && governor != "performance") {
            warn("CPU frequency governor '" + governor + "' (cpu" + std::to_string(cpu) +
                 "): clock speed follows load; 'performance' gives steadier figures");
            break;
        }
    }
    const bool optimised = build_type == "Release" || build_type == "RelWithDebInfo" || build_type == "MinSizeRel";
#ifdef NDEBUG
    const bool asserts = false;
#else
    const bool asserts = true;
#endif
    if (!optimised || asserts)
        warn("parbench is a " + build_type + (asserts ? " build with assertions" : " build") +
             ": figures are not an optimised build's (use the release preset)");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    warn("parbench is built with a sanitizer: figures are the sanitizer's, not parbench's");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
    warn("parbench is built with a sanitizer: figures are the sanitizer's, not parbench's");
#endif
#endif
    return warned;
}

std::string next_command(const std::string& out_path, const std::string& out_format) {
    if (out_path.empty() || out_format != "json") return {};
    const std::filesystem::path json = out_path;
    const std::filesystem::path report = json.parent_path() / "report.md";
    // A further pass of the bench workflow writes FILE.passK.json (run_benchmarks.cmake); its report reads FILE
    // and the passes before K too, so the line names those that are there.
    std::string inputs = json.string();
    const std::regex further_pass(R"((.*)\.pass([0-9]{1,3})\.json)");
    if (std::smatch m; std::regex_match(inputs, m, further_pass) && std::filesystem::exists(m[1].str())) {
        const std::string base = m[1].str();
        std::string earlier = base;
        for (int k = 2; k < std::stoi(m[2].str()); ++k)
            if (const std::string pass = base + ".pass" + std::to_string(k) + ".json"; std::filesystem::exists(pass))
                earlier += " " + pass;
        inputs = earlier + " " + inputs;
    }
    return "/usr/bin/python3 " + (std::filesystem::path(PARBENCH_SOURCE_DIR) / "tools" / "parbench-report").string() +
           " --out " + report.string() + " " + inputs;
}

std::vector<std::string> planned_benchmarks() {
    std::ostringstream names;
    benchmark::ConsoleReporter lister(benchmark::ConsoleReporter::OO_None);
    lister.SetOutputStream(&names);
    std::ostringstream ignored;
    lister.SetErrorStream(&ignored);
    const bool was = benchmark::FLAGS_benchmark_list_tests;
    benchmark::FLAGS_benchmark_list_tests = true;
    benchmark::RunSpecifiedBenchmarks(&lister);
    benchmark::FLAGS_benchmark_list_tests = was;
    std::vector<std::string> out;
    std::istringstream lines(names.str());
    for (std::string line; std::getline(lines, line);)
        if (!line.empty()) out.push_back(line);
    return out;
}

}  // namespace parbench::bench

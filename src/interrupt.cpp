#include "interrupt.hpp"

#include <signal.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <utility>

#include "parbench/detail/child.hpp"

namespace parbench::bench::interrupt {
namespace detail {
std::atomic<int> g_requested{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler stores into it");
}  // namespace detail

namespace {

std::atomic<bool> g_stopped{false};
std::set<std::string> g_finished;  // touched by the reporters only, on the thread that runs the benchmarks

constexpr int handled[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void on_signal(int sig) {
    int none = 0;
    if (detail::g_requested.compare_exchange_strong(none, sig)) return;
    static constexpr char message[] = "bench_parallel: second signal: exiting at once, --benchmark_out unfinished\n";
    (void)!::write(STDERR_FILENO, message, sizeof message - 1);
    parbench::detail::leave(128 + sig);  // async-signal-safe: no atexit handlers, no stdio
}

// False for the runs of a skipped or stopped benchmark (everything reported after the stop); records the rest.
bool pass(const std::vector<benchmark::BenchmarkReporter::Run>& runs) {
    if (g_stopped.load()) return false;
    for (const auto& r : runs) g_finished.insert(r.run_name.str());
    return true;
}

}  // namespace

void install() {
    struct sigaction action {};
    action.sa_handler = on_signal;
    action.sa_flags = SA_RESTART;  // a slow system call in flight resumes; the next check sees the request
    sigemptyset(&action.sa_mask);
    for (const int sig : handled) sigaddset(&action.sa_mask, sig);
    for (const int sig : handled) {
        struct sigaction old {};
        // A signal ignored when we started (nohup, a background job without job control) stays ignored.
        if (::sigaction(sig, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
        ::sigaction(sig, &action, nullptr);
    }
}

int requested() noexcept { return detail::g_requested.load(); }

std::string signal_name(int sig) {
    const char* abbrev = ::sigabbrev_np(sig);
    return abbrev != nullptr ? std::string("SIG") + abbrev : "signal " + std::to_string(sig);
}

bool detail::stop(benchmark::State& state) {
    g_stopped.store(true);
    state.SkipWithError("interrupted");
    return true;
}

bool stopped() noexcept { return g_stopped.load(); }
std::size_t finished() noexcept { return g_finished.size(); }

// ---- display

void display_reporter::share_streams() {
    inner_.SetOutputStream(&GetOutputStream());
    inner_.SetErrorStream(&GetErrorStream());
}

bool display_reporter::ReportContext(const Context& context) {
    share_streams();
    return inner_.ReportContext(context);
}

void display_reporter::ReportRuns(const std::vector<Run>& runs) {
    if (!pass(runs)) return;
    share_streams();
    inner_.ReportRuns(runs);
}

void display_reporter::Finalize() {
    share_streams();
    inner_.Finalize();
}

// ---- file

std::unique_ptr<file_reporter> file_reporter::make(std::string_view format) {
    std::unique_ptr<benchmark::BenchmarkReporter> inner;
    if (format == "json") {
        inner = std::make_unique<benchmark::JSONReporter>();
    } else if (format == "console") {
        inner = std::make_unique<benchmark::ConsoleReporter>(benchmark::ConsoleReporter::OO_None);
    } else if (format == "csv") {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
        inner = std::make_unique<benchmark::CSVReporter>();
#pragma GCC diagnostic pop
    } else {
        return nullptr;
    }
    const bool json = format == "json";
    return std::unique_ptr<file_reporter>(new file_reporter(std::move(inner), json));
}

file_reporter::file_reporter(std::unique_ptr<benchmark::BenchmarkReporter> inner, bool json)
    : inner_(std::move(inner)), json_(json) {}

bool file_reporter::ReportContext(const Context& context) {
    inner_->SetErrorStream(&GetErrorStream());
    inner_->SetOutputStream(json_ ? static_cast<std::ostream*>(&head_) : &GetOutputStream());
    context_.emplace(context);
    return inner_->ReportContext(context);
}

void file_reporter::ReportRuns(const std::vector<Run>& runs) {
    if (!pass(runs)) return;
    inner_->SetOutputStream(json_ ? static_cast<std::ostream*>(&body_) : &GetOutputStream());
    inner_->ReportRuns(runs);
}

void file_reporter::Finalize() {
    if (!json_) {
        inner_->SetOutputStream(&GetOutputStream());
        inner_->Finalize();
        return;
    }
    inner_->SetOutputStream(&body_);
    inner_->Finalize();
    std::ostream& out = GetOutputStream();
    if (const int sig = requested(); sig != 0 && context_) {
        // The context again, now with the mark (and the date of this write rather than of the start).
        benchmark::AddCustomContext(std::string(context_key), signal_name(sig));
        benchmark::JSONReporter head;
        head.SetOutputStream(&out);
        head.SetErrorStream(&GetErrorStream());
        head.ReportContext(*context_);
    } else {
        out << head_.str();
    }
    out << body_.str();
    out.flush();
}

}  // namespace parbench::bench::interrupt

#include "interrupt.hpp"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <utility>

#include "parbench/detail/child.hpp"

namespace parbench::bench::interrupt {
namespace detail {
std::atomic<int> g_requested{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler stores into it");
}  // namespace detail

namespace {

std::atomic<bool> g_stopped{false};

constexpr int handled[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void on_signal(int sig) {
    int none = 0;
    if (detail::g_requested.compare_exchange_strong(none, sig)) return;
    static constexpr char message[] = "bench_parallel: second signal: exiting at once, --benchmark_out not written\n";
    (void)!::write(STDERR_FILENO, message, sizeof message - 1);
    parbench::detail::leave(128 + sig);  // async-signal-safe: no atexit handlers, no stdio
}

// The length of the valid UTF-8 sequence at the start of s, or 0.
std::size_t utf8_length(std::string_view s) noexcept {
    const auto byte = [&](std::size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
    const auto cont = [&](std::size_t i, unsigned lo = 0x80, unsigned hi = 0xBF) {
        return byte(i) >= lo && byte(i) <= hi;
    };
    const unsigned b = byte(0);
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) return cont(1) ? 2 : 0;
    if (b >= 0xE0 && b <= 0xEF) {  // no overlong forms (E0 80..9F), no surrogates (ED A0..BF)
        const bool second = b == 0xE0 ? cont(1, 0xA0) : b == 0xED ? cont(1, 0x80, 0x9F) : cont(1);
        return second && cont(2) ? 3 : 0;
    }
    if (b >= 0xF0 && b <= 0xF4) {  // no overlong forms (F0 80..8F), nothing past U+10FFFF (F4 90..)
        const bool second = b == 0xF0 ? cont(1, 0x90) : b == 0xF4 ? cont(1, 0x80, 0x8F) : cont(1);
        return second && cont(2) && cont(3) ? 4 : 0;
    }
    return 0;
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

bool detail::finished_filter::pass(const std::vector<benchmark::BenchmarkReporter::Run>& runs) {
    if (g_stopped.load()) return false;
    for (const auto& r : runs) {
        std::string name = r.run_name.str();
        if (count_ != 0 && name == last_) continue;
        last_ = std::move(name);
        ++count_;
    }
    return true;
}

std::string detail::json_safe(std::string_view json) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    out.reserve(json.size());
    for (std::size_t i = 0; i < json.size();) {
        const auto c = static_cast<unsigned char>(json[i]);
        if (c < 0x20 && c != '\n') {
            out += "\\u00";
            out += hex[c >> 4];
            out += hex[c & 15];
            ++i;
        } else if (const std::size_t n = utf8_length(json.substr(i)); n == 0) {
            out += "\\ufffd";
            ++i;
        } else {
            out.append(json.substr(i, n));
            i += n;
        }
    }
    return out;
}

bool detail::stop(benchmark::State& state) {
    g_stopped.store(true);
    state.SkipWithError("interrupted");
    return true;
}

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
    if (!filter_.pass(runs)) return;
    share_streams();
    inner_.ReportRuns(runs);
}

void display_reporter::Finalize() {
    share_streams();
    inner_.Finalize();
}

// ---- file

namespace {

// A read-write file with no name, in the temporary directory (TMPDIR, else /tmp); nullptr if none can be made.
std::FILE* unnamed_file() {
    std::error_code ec;
    const std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
    if (ec) return nullptr;
    std::string name = (dir / "bench_parallel.XXXXXX").string();
    const int fd = ::mkostemp(name.data(), O_CLOEXEC);  // not for the programs that processes.spawn starts
    if (fd < 0) return nullptr;
    ::unlink(name.c_str());
    std::FILE* f = ::fdopen(fd, "w+");
    if (f == nullptr) ::close(fd);
    return f;
}

}  // namespace

file_reporter::~file_reporter() {
    if (spool_file_ != nullptr) std::fclose(spool_file_);
}

// Hands what spool_file_ holds to `sink` block by block, then closes it: the runs leave the file once, whether
// for the output or for memory. Says so on the error stream if the file cannot be read back whole.
template <class Sink>
void file_reporter::read_back(Sink sink) {
    std::rewind(spool_file_);
    std::array<char, 1 << 16> block;
    std::size_t left = spooled_;
    while (left > 0) {
        const std::size_t got = std::fread(block.data(), 1, std::min(left, block.size()), spool_file_);
        if (got == 0) {
            std::fputs(
                "bench_parallel: lost part of --benchmark_out's results: the temporary file holding them "
                "could not be read back\n",
                stderr);
            break;
        }
        sink(std::string_view(block.data(), got));
        left -= got;
    }
    std::fclose(spool_file_);
    spool_file_ = nullptr;
    spooled_ = 0;
}

// Appends `text` to the spool. A file write that fails moves what the file held into memory, and the spool stays
// there: no result is lost to a full disk.
void file_reporter::spool(std::string_view text) {
    if (spool_file_ != nullptr) {
        if (std::fwrite(text.data(), 1, text.size(), spool_file_) == text.size() && std::fflush(spool_file_) == 0) {
            spooled_ += text.size();
            return;
        }
        std::string held;
        held.reserve(spooled_);
        read_back([&held](std::string_view block) { held.append(block); });
        spool_memory_ = std::move(held);
    }
    spool_memory_.append(text);
}

bool file_reporter::ReportContext(const Context& context) {
    // The inner reporter keeps the streams it is given here (a wrapper may pass them on only now).
    inner_->SetErrorStream(&GetErrorStream());
    inner_->SetOutputStream(&chunk_);
    context_.emplace(context);
    if (json_ && spool_file_ == nullptr && spooled_ == 0 && spool_memory_.empty()) spool_file_ = unnamed_file();
    const bool go = inner_->ReportContext(context);
    if (json_)
        head_ = std::move(chunk_).str();
    else
        out_.write(chunk_.view());
    chunk_.str({});
    return go;
}

// Each call's output is whole JSON values and separators, so json_safe can take it piece by piece: no string, and
// no UTF-8 sequence inside one, is split between two calls.
void file_reporter::ReportRuns(const std::vector<Run>& runs) {
    if (!filter_.pass(runs)) return;
    inner_->ReportRuns(runs);
    if (json_)
        spool(detail::json_safe(chunk_.view()));
    else
        out_.write(chunk_.view());
    chunk_.str({});
}

void file_reporter::Finalize() {
    inner_->Finalize();
    if (!json_) {
        out_.write(chunk_.view());
        chunk_.str({});
        return;
    }
    spool(detail::json_safe(chunk_.view()));
    chunk_.str({});
    std::string_view head = head_;
    std::ostringstream marked;
    if (const int sig = requested(); sig != 0 && context_) {
        // The context again, now with the mark (and the date of this write rather than of the start).
        static bool added = false;  // the library's context takes a key once
        if (!added) benchmark::AddCustomContext(std::string(context_key), signal_name(sig));
        added = true;
        benchmark::JSONReporter again;
        again.SetOutputStream(&marked);
        again.SetErrorStream(&GetErrorStream());
        again.ReportContext(*context_);
        head = marked.view();
    }
    out_.write(detail::json_safe(head));
    if (spool_file_ != nullptr) read_back([this](std::string_view block) { out_.write(block); });
    out_.write(spool_memory_);
    spool_memory_.clear();
    spool_memory_.shrink_to_fit();
}

}  // namespace parbench::bench::interrupt

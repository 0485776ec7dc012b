#pragma once
// The CPU time of this process and of its descendants: overhead/idle's idle_cpu_pct, and every benchmark's
// tree_cpu_s (measure.hpp).

#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "parbench/detail/forkserver_client.hpp"

namespace parbench::bench {

// CPU time used by this process (all its threads) and by the descendants it had when built: a process pool's
// workers, which are not reaped between runs and so are not in RUSAGE_CHILDREN, and a fork server's pool workers
// (its children). Building it lists them (/proc/<pid>/task/*/children, from this process down) and opens their
// CPU-time clocks (nanoseconds, unlike /proc's clock ticks), so that seconds() is only a few clock reads; a
// descendant that has exited since reads as nothing more.
class cpu_clock {
public:
    cpu_clock() : server_(parbench::detail::forkserver_client::running_pid()) {
        std::vector<std::string> parents{"/proc/self"};
        while (!parents.empty()) {
            const std::string parent = std::move(parents.back());
            parents.pop_back();
            std::error_code ec;
            for (const auto& task : std::filesystem::directory_iterator(parent + "/task", ec)) {
                std::ifstream children(task.path() / "children");
                for (pid_t pid; children >> pid;) {
                    clockid_t id{};
                    if (clock_getcpuclockid(pid, &id) != 0) continue;
                    clocks_.push_back(id);
                    pids_.push_back(pid);
                    parents.push_back("/proc/" + std::to_string(pid));
                }
            }
        }
    }
    [[nodiscard]] double seconds() const noexcept {
        double total = read(CLOCK_PROCESS_CPUTIME_ID);
        for (const clockid_t id : clocks_) total += read(id);
        return total;
    }
    // The whole process tree: seconds(), the children reaped so far (RUSAGE_CHILDREN: processes started per run,
    // and what they reaped), the workers a fork server reaped (processes.forkserver's per-run workers, a
    // forkserver pool's workers; as the server reported them, in microseconds) and what the other listed
    // descendants reaped of their own (/proc's cutime and cstime, in clock ticks of 10 ms). The difference of two
    // reads is the tree's CPU in between, also where a listed process is reaped between them: its clock then reads
    // nothing and its reaper's count its whole life.
    [[nodiscard]] double tree_seconds() const noexcept {
        rusage children{};
        getrusage(RUSAGE_CHILDREN, &children);
        double total = seconds() + to_seconds(children.ru_utime) + to_seconds(children.ru_stime);
        total +=
            static_cast<double>(parbench::detail::forkserver_reaped_cpu_us().load(std::memory_order_relaxed)) * 1e-6;
        for (const pid_t pid : pids_)
            if (pid != server_) total += reaped_by(pid);  // the server's cutime: the same workers, in ticks
        return total;
    }
    // The live descendants found (children, and their children).
    [[nodiscard]] std::size_t children() const noexcept { return clocks_.size(); }

private:
    static double to_seconds(const timeval& t) noexcept {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6;
    }
    // Fields 16 and 17 of /proc/<pid>/stat (cutime, cstime), after the command name's closing parenthesis.
    static double reaped_by(pid_t pid) noexcept {
        char path[64];
        std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
        std::FILE* f = std::fopen(path, "re");
        if (f == nullptr) return 0.0;
        char line[1024];
        const bool got = std::fgets(line, sizeof line, f) != nullptr;
        std::fclose(f);
        const char* rest = got ? std::strrchr(line, ')') : nullptr;
        if (rest == nullptr) return 0.0;
        long long cutime = 0;
        long long cstime = 0;
        // After ") ": state (3), then fields 4..15, then cutime (16) and cstime (17).
        if (std::sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %lld %lld", &cutime, &cstime) !=
            2)
            return 0.0;
        return static_cast<double>(cutime + cstime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    }
    static double read(clockid_t id) noexcept {
        timespec ts{};
        if (clock_gettime(id, &ts) != 0) return 0.0;
        return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    }
    std::vector<clockid_t> clocks_;
    std::vector<pid_t> pids_;
    pid_t server_;  // this process's fork server, or -1
};

}  // namespace parbench::bench

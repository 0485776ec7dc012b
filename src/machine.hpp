#pragma once
// What bench_parallel reads off the machine and the process: hardware threads and resource usage.

#include <malloc.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "parbench/detail/spin.hpp"

namespace parbench::bench {

// The CPUs this process may run on (its affinity mask), which is what its workers can use.
[[nodiscard]] inline unsigned hardware_threads() noexcept { return parbench::detail::available_cpus(); }

// Context switches of this process and of its reaped children (wait4/waitpid fold a child's usage into
// RUSAGE_CHILDREN), so strategies that fork are counted too; and the largest child's peak RSS so far.
struct usage {
    std::int64_t voluntary = 0;
    std::int64_t involuntary = 0;
    std::int64_t children_peak_rss_kib = 0;
    std::int64_t minor_faults = 0;  // page faults served without I/O: mostly first touches of fresh memory

    [[nodiscard]] static usage now() noexcept {
        rusage self{};
        rusage children{};
        getrusage(RUSAGE_SELF, &self);
        getrusage(RUSAGE_CHILDREN, &children);
        return {self.ru_nvcsw + children.ru_nvcsw, self.ru_nivcsw + children.ru_nivcsw, children.ru_maxrss,
                self.ru_minflt + children.ru_minflt};
    }
};

// CPU time used by this process (all its threads) and by the children it had when built: a process pool's
// workers, which are not reaped between runs and so are not in RUSAGE_CHILDREN. Building it lists the children
// (/proc/self/task/*/children) and opens their CPU-time clocks (nanoseconds, unlike /proc's clock ticks), so
// that seconds() is only a few clock reads; a child that has exited since reads as nothing more.
class cpu_clock {
public:
    cpu_clock() {
        std::error_code ec;
        for (const auto& task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
            std::ifstream children(task.path() / "children");
            for (pid_t pid; children >> pid;) {
                clockid_t id{};
                if (clock_getcpuclockid(pid, &id) == 0) clocks_.push_back(id);
            }
        }
    }
    [[nodiscard]] double seconds() const noexcept {
        double total = read(CLOCK_PROCESS_CPUTIME_ID);
        for (const clockid_t id : clocks_) total += read(id);
        return total;
    }
    [[nodiscard]] std::size_t children() const noexcept { return clocks_.size(); }

private:
    static double read(clockid_t id) noexcept {
        timespec ts{};
        if (clock_gettime(id, &ts) != 0) return 0.0;
        return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
    }
    std::vector<clockid_t> clocks_;
};

// This process's peak RSS (VmHWM) since the last reset_peak_rss(), in KiB; 0 if /proc cannot be read.
// Resetting (Linux >= 4.0) makes the figure this benchmark's own instead of the whole program's high-water mark.
inline bool reset_peak_rss() noexcept {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    return static_cast<bool>(clear.flush());
}
[[nodiscard]] inline std::int64_t peak_rss_kib() {
    std::ifstream status("/proc/self/status");
    std::string key;
    while (status >> key) {
        if (key == "VmHWM:") {
            std::int64_t kib = 0;
            status >> kib;
            return kib;
        }
        status.ignore(1 << 12, '\n');
    }
    return 0;
}

// This process's resident set now, in bytes (/proc/self/statm); 0 if it cannot be read.
[[nodiscard]] inline std::int64_t resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0;
    std::int64_t resident = 0;
    if (!(statm >> size >> resident)) return 0;
    return resident * static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
}

// Threads of this process now (/proc/self/task); 0 if it cannot be read.
[[nodiscard]] inline unsigned thread_count() {
    std::error_code ec;
    unsigned n = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++n;
    return n;
}

// Puts the process back into the state every benchmark starts from: heap memory that earlier benchmarks freed goes
// back to the kernel (malloc_trim(0) trims every arena and releases the free pages inside them, so a later fork
// does not copy the page tables of memory nobody uses). Strategies, with their threads, children and mappings, are
// already gone: each benchmark destroys its own. Returns the resident size afterwards, in bytes.
inline std::int64_t settle_process() {
    ::malloc_trim(0);
    return resident_bytes();
}

}  // namespace parbench::bench

#pragma once
// What bench_parallel reads off the machine and the process: hardware threads and resource usage.

#include <malloc.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <barrier>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include "cpu_clock.hpp"
#include "parbench/detail/shm.hpp"
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

// This process's peak RSS (VmHWM) since the last reset_peak_rss(), in KiB; 0 if /proc cannot be read.
// Resetting (Linux >= 4.0) makes the figure this benchmark's own instead of the whole program's high-water mark.
inline bool reset_peak_rss() noexcept {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    return static_cast<bool>(clear.flush());
}
// The number after `key` (such as "VmHWM:") in a /proc file of "Key: value kB" lines; 0 if it is not there.
[[nodiscard]] inline std::int64_t proc_field(const char* path, std::string_view key) {
    std::ifstream in(path);
    std::string word;
    while (in >> word) {
        if (word == key) {
            std::int64_t value = 0;
            in >> value;
            return value;
        }
        in.ignore(1 << 12, '\n');
    }
    return 0;
}
[[nodiscard]] inline std::int64_t peak_rss_kib() { return proc_field("/proc/self/status", "VmHWM:"); }

// /proc/self/statm's resident and shared (file-backed and shared-memory) sizes, in bytes; zeros if unreadable.
struct statm_sizes {
    std::int64_t resident = 0;
    std::int64_t shared = 0;
};
[[nodiscard]] inline statm_sizes statm_bytes() {
    std::ifstream statm("/proc/self/statm");
    std::int64_t size = 0;
    statm_sizes pages;
    if (!(statm >> size >> pages.resident >> pages.shared)) return {};
    const auto page = static_cast<std::int64_t>(::sysconf(_SC_PAGESIZE));
    return {pages.resident * page, pages.shared * page};
}

// This process's resident set now, in bytes (/proc/self/statm); 0 if it cannot be read.
[[nodiscard]] inline std::int64_t resident_bytes() { return statm_bytes().resident; }

// The part of the resident set that is private anonymous memory (heap, stacks, anonymous mappings), in bytes:
// what fork() copies the page tables of, since file-backed pages without private changes are not copied.
[[nodiscard]] inline std::int64_t anonymous_bytes() {
    const statm_sizes s = statm_bytes();
    return s.resident - s.shared;
}

// MemAvailable from /proc/meminfo, in bytes; 0 if it cannot be read.
[[nodiscard]] inline std::int64_t available_bytes() { return proc_field("/proc/meminfo", "MemAvailable:") * 1024; }

// `bytes` of private anonymous memory, every page written, held while it lives. Small pages only
// (MADV_NOHUGEPAGE): where transparent huge pages are on for every mapping, a fork would copy one entry per 2 MiB
// and the memory would not cost what a process's heap costs.
class touched_memory {
public:
    explicit touched_memory(std::size_t bytes) {
        if (bytes == 0) return;
        memory_ = parbench::detail::private_mapping(bytes);
        ::madvise(memory_.data(), bytes, MADV_NOHUGEPAGE);
        std::memset(memory_.data(), 1, bytes);
    }

private:
    parbench::detail::private_mapping memory_;
};

// A parent of a defined size for benchmarks that fork this process while timed (processes.pipe and .shm per run,
// overhead/start/fork, a fork pool's start-up). A fork costs in proportion to the parent's anonymous memory, and
// bench_parallel's grows with the run (Google Benchmark holds every benchmark it will run and its results), so
// without this a fork's time would depend on the profile and on what ran before. While it lives, the process's
// anonymous memory is topped up to `target` bytes (--parbench_fork_parent_mib); a process already larger stays as
// it is. size() is the anonymous size it left, which the benchmark reports as parent_anon.
class fork_parent {
public:
    explicit fork_parent(std::int64_t target) : topping_(top_up(target)), size_(anonymous_bytes()) {}
    [[nodiscard]] std::int64_t size() const noexcept { return size_; }

private:
    // The bytes to add; throws if they are more than half the memory the kernel says is available, so that a
    // large --parbench_fork_parent_mib is an error of one benchmark, not the whole run killed for memory.
    static std::size_t top_up(std::int64_t target) {
        const std::int64_t page = ::sysconf(_SC_PAGESIZE);
        const std::int64_t missing = target - anonymous_bytes();
        if (missing <= 0) return 0;
        if (const std::int64_t available = available_bytes(); available > 0 && missing > available / 2)
            throw std::runtime_error("--parbench_fork_parent_mib: " + std::to_string(missing >> 20) +
                                     " MiB more is over half of the " + std::to_string(available >> 20) +
                                     " MiB available");
        return static_cast<std::size_t>((missing + page - 1) / page * page);
    }
    touched_memory topping_;
    std::int64_t size_;
};

// Threads of this process now (/proc/self/task); 0 if it cannot be read.
[[nodiscard]] inline unsigned thread_count() {
    std::error_code ec;
    unsigned n = 0;
    for (auto it = std::filesystem::directory_iterator("/proc/self/task", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++n;
    return n;
}

// Brings the C library's per-process caches to the state a whole run leaves them in, once, before the first
// benchmark: `threads` threads that allocate at the same time each get a malloc arena, and as they exit glibc keeps
// their stacks (up to its cache's size). Both outlive the threads and both are mappings a fork copies, so without
// this a process that has run thread strategies forks more slowly than one that has not, and a benchmark's time
// would depend on what ran before it. Returns how many threads it could start (fewer under a thread or memory
// limit: the run then goes on without the rest of the warm-up, and says so).
inline unsigned warm_thread_caches(unsigned threads) {
    std::vector<std::thread> all;
    std::barrier<> together(static_cast<std::ptrdiff_t>(threads));
    all.reserve(threads);
    for (unsigned i = 0; i < threads; ++i) {
        try {
            all.emplace_back([&together] {
                void* volatile block = std::malloc(64);
                together.arrive_and_wait();
                std::free(block);
            });
        } catch (const std::system_error&) {
            for (unsigned missing = i; missing < threads; ++missing) together.arrive_and_drop();
            break;
        }
    }
    for (auto& t : all) t.join();
    return static_cast<unsigned>(all.size());
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

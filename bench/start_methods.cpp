// overhead/start/...: the start methods of Python's multiprocessing, each starting one worker and reaping it
// (docs/processes.md explains what each pays for):
//   overhead/start/spawn_self             a fresh copy of bench_parallel in its worker mode runs a one-element
//                                         count: exec, dynamic linking, static initialisation, request and result
//   overhead/start/forkserver             the same one-element count, forked by the program's fork server
//   overhead/start/fork/parent_mib:M      fork + _exit + wait with M MiB more touched in this process first
// Each reports us_per_op and parent_rss, this process's resident bytes as the timing starts: what a fork copies
// the page tables of.

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <system_error>

#include "harness.hpp"
#include "parbench/detail/child.hpp"
#include "parbench/kernels/count.hpp"
#include "parbench/strategies/processes_forkserver.hpp"
#include "parbench/strategies/processes_spawn.hpp"

namespace parbench::bench {
namespace {

using clock_type = std::chrono::steady_clock;

// This process's resident size in bytes, from /proc/self/statm; 0 if it cannot be read.
double resident_bytes() {
    std::ifstream statm("/proc/self/statm");
    long long pages = 0;
    long long resident = 0;
    if (!(statm >> pages >> resident)) return 0;
    return static_cast<double>(resident) * static_cast<double>(::sysconf(_SC_PAGESIZE));
}

template <class Start>
void start_method_bench(benchmark::State& state, Start start) {
    try {
        state.counters["parent_rss"] = benchmark::Counter(resident_bytes(), benchmark::Counter::kDefaults,
                                                          benchmark::Counter::kIs1024);
        const auto t0 = clock_type::now();
        for (auto _ : state) start();
        state.counters["us_per_op"] = std::chrono::duration<double, std::micro>(clock_type::now() - t0).count() /
                                      static_cast<double>(std::max<benchmark::IterationCount>(state.iterations(), 1));
    } catch (const std::exception& e) {
        detail::fail(state, e.what());
    }
}

template <class S>
void one_worker(benchmark::State& state) {
    S strategy(1);
    start_method_bench(state, [&] {
        if (strategy.run(kernels::count{}, 1) != 1) throw std::runtime_error("wrong total from the started worker");
    });
}

// M MiB of private memory, every page touched, for as long as the benchmark runs.
class touched_memory {
public:
    explicit touched_memory(std::size_t mib) : size_(mib << 20) {
        if (size_ == 0) return;
        data_ = ::mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (data_ == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap");
        std::memset(data_, 1, size_);
    }
    ~touched_memory() {
        if (size_ != 0) ::munmap(data_, size_);
    }
    touched_memory(const touched_memory&) = delete;
    touched_memory& operator=(const touched_memory&) = delete;

private:
    std::size_t size_;
    void* data_ = nullptr;
};

void fork_with_parent(benchmark::State& state, std::size_t mib) {
    std::optional<touched_memory> memory;
    try {
        memory.emplace(mib);
    } catch (const std::exception& e) {
        detail::fail(state, e.what());
        return;
    }
    start_method_bench(state, [] {
        const pid_t pid = ::fork();  // as overhead/start/fork does, at parent_mib:0
        if (pid < 0) throw std::system_error(errno, std::generic_category(), "fork");
        if (pid == 0) ::_exit(0);
        const int status = detail::reap(pid);
        if (status != 0) throw std::runtime_error("forked child ended with " + detail::describe_status(status));
    });
}

}  // namespace

PARBENCH_FAMILY(51, start_methods) {
    benchmark::RegisterBenchmark("overhead/start/spawn_self", one_worker<strategies::processes_spawn>)->UseRealTime();
    benchmark::RegisterBenchmark("overhead/start/forkserver", one_worker<strategies::processes_forkserver>)
        ->UseRealTime();
    for (const std::size_t mib : {64, 1024})
        benchmark::RegisterBenchmark(("overhead/start/fork/parent_mib:" + std::to_string(mib)).c_str(),
                                     [mib](benchmark::State& state) { fork_with_parent(state, mib); })
            ->UseRealTime();
}

}  // namespace parbench::bench

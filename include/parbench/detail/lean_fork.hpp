#pragma once
// What makes the fork server's fork cheap: its workers get only the mappings a kernel runs on.
//
// The server is this program started afresh, so it maps every library the program links, among them the parallel
// runtimes parbench compares (MPI and its dependencies, oneTBB, OpenMP, Google Benchmark). A worker runs one chunk
// of a kernel on one thread and never calls into them, but a plain fork would still copy each of their mappings,
// and a fork's cost grows with the mappings it copies (docs/processes.md). lean_fork_setup() marks those
// libraries' mappings MADV_DONTFORK, all but the first of each, which holds the ELF and program headers that
// the exception unwinder reads for every loaded object; lean_fork() then forks without running pthread_atfork
// handlers, which live in those libraries. The server starts with lean_fork_env in its environment, so the
// dynamic linker binds every symbol at start-up: a lazy binding in a worker would search those libraries'
// dynamic sections, which the worker does not have. A kernel that calls into one of them cannot run under
// processes.forkserver.
//
// Sanitizer builds leave both out: their runtimes keep threads and fork handlers of their own.

#include <sys/mman.h>
#include <unistd.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string_view>

namespace parbench::detail {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr bool lean_fork_enabled = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
inline constexpr bool lean_fork_enabled = false;
#else
inline constexpr bool lean_fork_enabled = true;
#endif
#else
inline constexpr bool lean_fork_enabled = true;
#endif

// The server's environment entry that makes the dynamic linker bind every symbol before main; null (nothing to
// add) where the runtimes are not left out.
inline constexpr const char* lean_fork_env = lean_fork_enabled ? "LD_BIND_NOW=1" : nullptr;

// True for a library a worker never needs: a parallel runtime that parbench links, or one of their dependencies.
[[nodiscard]] inline bool runtime_library(std::string_view path) noexcept {
    const std::string_view name = path.substr(path.rfind('/') + 1);
    static constexpr std::array<std::string_view, 12> runtimes = {
        "libmpi",  "libopen-rte", "libopen-pal", "libpmix", "libhwloc", "libevent",
        "libudev", "libz.",       "libtbb",      "libgomp", "libomp",   "libbenchmark"};
    for (const std::string_view r : runtimes)
        if (name.starts_with(r)) return true;
    return false;
}

// In the single-threaded server, before its first fork: keeps the runtime libraries out of every worker.
// Best effort: a mapping that cannot be marked is simply copied.
inline void lean_fork_setup() noexcept {
    if constexpr (lean_fork_enabled) {
        std::FILE* maps = std::fopen("/proc/self/maps", "re");
        if (maps == nullptr) return;
        char line[4096];
        while (std::fgets(line, sizeof line, maps) != nullptr) {
            void* begin = nullptr;
            void* end = nullptr;
            unsigned long long offset = 0;
            int path_at = 0;
            // NOLINTNEXTLINE(cert-err34-c): a line that does not parse is skipped
            if (std::sscanf(line, "%p-%p %*s %llx %*s %*s %n", &begin, &end, &offset, &path_at) < 3 || path_at <= 0 ||
                end <= begin)
                continue;
            std::string_view path(line + path_at);
            while (!path.empty() && (path.back() == '\n' || path.back() == ' ')) path.remove_suffix(1);
            if (offset == 0 || path.empty() || path.front() != '/' || !runtime_library(path)) continue;
            (void)::madvise(begin, static_cast<std::size_t>(static_cast<char*>(end) - static_cast<char*>(begin)),
                            MADV_DONTFORK);
        }
        std::fclose(maps);
    }
}

// fork() for the single-threaded server: without pthread_atfork handlers (glibc's _Fork) when the runtimes were
// left out, since those handlers belong to them.
[[nodiscard]] inline pid_t lean_fork() noexcept {
    if constexpr (lean_fork_enabled)
        return ::_Fork();
    else
        return ::fork();
}

}  // namespace parbench::detail

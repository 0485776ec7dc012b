#pragma once
// Child processes, written once: fork a body that dies with its parent, leave without touching the parent's
// inherited state, and reap with or without a deadline.

#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "fd.hpp"
#include "hung.hpp"

namespace parbench::detail {

// How long a run may take before its worker processes count as hung; generous, for the benchmark's biggest sizes.
inline constexpr std::chrono::milliseconds default_deadline = std::chrono::minutes(2);

// Exit codes a child uses for its own failures, distinct from what a body normally returns (0).
inline constexpr int exit_uncaught = 70;      // an exception escaped the body (EX_SOFTWARE)
inline constexpr int exit_orphaned = 71;      // the parent was gone before the child started
inline constexpr int exit_unsent = 72;        // the child could not send its result
inline constexpr int exit_unregistered = 73;  // a started worker's program does not serve the requested kernel

// Leaves the process now: no atexit handlers, no static destructors, no stdio flush, so a child never writes
// the parent's pending output a second time. The raw exit_group system call, because sanitizers intercept
// _exit and ThreadSanitizer's version flushes stdout.
[[noreturn]] inline void leave(int code) noexcept {
    ::syscall(SYS_exit_group, code);
    __builtin_unreachable();
}

// Forks a child that runs `int body()` and leaves with its return value (exit_uncaught if it throws). The child
// gets SIGKILL when the parent dies. Linux sends that signal when the *thread* that forked exits, so fork from a
// thread that outlives the child. Returns the child's pid; throws std::system_error if fork fails.
template <class F>
pid_t fork_child(F&& body) {
    static_assert(std::is_convertible_v<std::invoke_result_t<F&>, int>, "a child body returns its exit code");
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw_errno("fork");
    if (pid > 0) return pid;
    // The parent may have died between fork and prctl; then the death signal would never come.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || ::getppid() != parent) leave(exit_orphaned);
    try {
        leave(static_cast<int>(body()));
    } catch (...) {
        leave(exit_uncaught);
    }
}

// While it lives, the whole pages of [data, data + bytes) are left out of every child this process forks
// (MADV_DONTFORK), and inherited again once it is gone (MADV_DOFORK). For memory the children get another way: the
// parent can then write there while its children run without each page being copied on write first (a fork
// write-protects every private page it shares), and a fork copies no page table entries for it. A child that
// touches those pages anyway dies of SIGSEGV. The pages the range shares with other data, at its two ends, stay
// inherited. Best effort: a range madvise refuses is inherited as before. Pages the caller had marked
// MADV_DONTFORK itself are inherited afterwards.
class kept_from_children {
public:
    kept_from_children(const void* data, std::size_t bytes) noexcept {
        const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
        const auto at = reinterpret_cast<std::uintptr_t>(data);
        if (data == nullptr || page == 0 || bytes < page || at + bytes < at) return;
        const std::uintptr_t first = (at + page - 1) / page * page;
        const std::uintptr_t last = (at + bytes) / page * page;
        if (last <= first) return;
        begin_ = reinterpret_cast<void*>(first);  // NOLINT(performance-no-int-to-ptr): page-aligned, inside data
        size_ = last - first;
        (void)::madvise(begin_, size_, MADV_DONTFORK);
    }
    ~kept_from_children() {
        if (size_ != 0) (void)::madvise(begin_, size_, MADV_DOFORK);
    }
    kept_from_children(const kept_from_children&) = delete;
    kept_from_children& operator=(const kept_from_children&) = delete;

    // The pages left out: none if the range holds no whole page.
    [[nodiscard]] std::size_t bytes() const noexcept { return size_; }

private:
    void* begin_ = nullptr;
    std::size_t size_ = 0;
};

namespace child_detail {
inline pid_t wait_eintr(pid_t pid, int* status, int flags) noexcept {
    for (;;) {
        const pid_t r = ::waitpid(pid, status, flags);
        if (r >= 0 || errno != EINTR) return r;
    }
}
}  // namespace child_detail

// Waits for the child to end; returns its raw wait status. Throws std::system_error if pid is not our child.
inline int reap(pid_t pid) {
    int status = 0;
    if (child_detail::wait_eintr(pid, &status, 0) < 0) throw_errno("waitpid");
    return status;
}

// Waits at most `timeout` for the child to end: its raw wait status, or nullopt if it is still running (it is
// then neither killed nor reaped). Sleeps in poll on a pidfd, so the status arrives as soon as the child ends.
inline std::optional<int> reap_for(pid_t pid, std::chrono::nanoseconds timeout) {
    using clock = std::chrono::steady_clock;
    const auto deadline = clock::now() + timeout;
    int status = 0;
    const unique_fd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
    for (;;) {
        const pid_t r = child_detail::wait_eintr(pid, &status, WNOHANG);
        if (r < 0) throw_errno("waitpid");
        if (r == pid) return status;
        const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
        if (left.count() <= 0) return std::nullopt;
        if (pidfd) {
            pollfd p{pidfd.get(), POLLIN, 0};
            (void)::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));  // EINTR: loop
        } else {  // kernels before 5.3: poll the status instead
            std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(left, std::chrono::milliseconds(1)));
        }
    }
}

// Kills the child with SIGKILL and reaps it; for cleanup paths, so it never throws.
inline void kill_and_reap(pid_t pid) noexcept {
    if (pid <= 0) return;
    ::kill(pid, SIGKILL);
    int status = 0;
    (void)child_detail::wait_eintr(pid, &status, 0);
}

// A wait status in words: "exit code 3", "signal 9 (Killed)".
[[nodiscard]] inline std::string describe_status(int status) {
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) {
        const int sig = WTERMSIG(status);
        const char* name = ::sigdescr_np(sig);
        return "signal " + std::to_string(sig) + " (" + (name != nullptr ? name : "unknown") + ")" +
               (WCOREDUMP(status) ? ", core dumped" : "");
    }
    return "wait status " + std::to_string(status);
}

// The worker_error for a child that ended with `status` (a failure), e.g. "worker 1 of 2 failed: signal: 9 (Killed)".
[[nodiscard]] inline worker_error status_error(unsigned worker, unsigned workers, int status) {
    if (WIFSIGNALED(status))
        return {worker, workers, failure::signal, describe_status(status).substr(7), WTERMSIG(status)};
    if (WIFEXITED(status))
        return {worker, workers, failure::exit_code, std::to_string(WEXITSTATUS(status)), WEXITSTATUS(status)};
    return {worker, workers, failure::lost, describe_status(status), status};
}

// Children forked together and waited for together. Each is watched through a pidfd, so a wait wakes the moment
// any child ends; whatever is still running when the group is cleared or destroyed is killed and reaped.
class child_group {
public:
    child_group() = default;
    ~child_group() { kill_all(); }
    child_group(const child_group&) = delete;
    child_group& operator=(const child_group&) = delete;

    // Forks one more child running body (see fork_child); its index is the number of children forked before it.
    template <class F>
    void fork(F&& body) {
        adopt(fork_child(std::forward<F>(body)));
    }

    // Takes charge of child `pid`, started some other way (posix_spawn): waited for and killed like the rest. If
    // that fails, the child is killed and reaped before the exception leaves.
    void adopt(pid_t pid) {
        try {
            pids_.reserve(pids_.size() + 1);
            polls_.reserve(polls_.size() + 1);
        } catch (...) {
            kill_and_reap(pid);
            throw;
        }
        const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
        if (fd < 0) {
            const int err = errno;
            kill_and_reap(pid);
            throw_errno("pidfd_open", err);
        }
        pids_.push_back(pid);
        polls_.push_back({fd, POLLIN, 0});
    }

    // The child's pid, or -1 once it has been reaped.
    [[nodiscard]] pid_t pid(std::size_t i) const noexcept { return pids_[i]; }
    [[nodiscard]] std::size_t running() const noexcept {
        return static_cast<std::size_t>(std::count_if(pids_.begin(), pids_.end(), [](pid_t p) { return p > 0; }));
    }

    struct ended {
        std::size_t index;
        int status;           // raw wait status; -1: the deadline passed
        std::string process;  // a hung child: its pid and state as the deadline passed (describe_process)
    };
    // Waits at most `timeout` for any running child to end, reaps it and says which; nullopt on timeout or when
    // none is running.
    std::optional<ended> wait_any(std::chrono::milliseconds timeout) {
        using clock = std::chrono::steady_clock;
        const auto deadline = clock::now() + timeout;
        for (;;) {
            if (running() == 0) return std::nullopt;
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now()).count();
            const int rc =
                ::poll(polls_.data(), polls_.size(), static_cast<int>(std::clamp<long long>(left, 0, 1 << 30)));
            if (rc < 0 && errno != EINTR) throw_errno("poll");
            for (std::size_t i = 0; rc > 0 && i < polls_.size(); ++i) {
                if (polls_[i].fd < 0 || polls_[i].revents == 0) continue;
                int status = 0;
                if (child_detail::wait_eintr(pids_[i], &status, WNOHANG) == pids_[i]) {
                    forget(i);
                    return ended{i, status, {}};
                }
            }
            if (left <= 0) return std::nullopt;
        }
    }

    // Waits for every child, at most `timeout` in all. Returns nullopt once all have exited with status 0;
    // otherwise the first failure (the others are then killed and reaped), or {a child still running, -1} if
    // the deadline passed first (all are then killed and reaped).
    std::optional<ended> wait_all(std::chrono::nanoseconds timeout) {
        using clock = std::chrono::steady_clock;
        const auto deadline = clock::now() + timeout;
        while (running() > 0) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - clock::now());
            const auto e = wait_any(std::max(left, std::chrono::milliseconds(0)));
            if (e && e->status == 0) continue;
            if (e) {
                kill_all();
                return e;
            }
            if (clock::now() < deadline) continue;  // poll woke early (EINTR)
            std::size_t hung = 0;
            while (pids_[hung] <= 0) ++hung;
            ended timed_out{hung, -1, describe_process(pids_[hung])};
            kill_all();
            return timed_out;
        }
        return std::nullopt;
    }

    // Kills and reaps every child still running, then forgets them all.
    void kill_all() noexcept {
        for (const pid_t p : pids_)
            if (p > 0) ::kill(p, SIGKILL);
        for (std::size_t i = 0; i < pids_.size(); ++i) {
            int status = 0;
            if (pids_[i] > 0) (void)child_detail::wait_eintr(pids_[i], &status, 0);
            forget(i);
        }
        pids_.clear();
        polls_.clear();
    }

private:
    void forget(std::size_t i) noexcept {
        pids_[i] = -1;
        if (polls_[i].fd >= 0) ::close(polls_[i].fd);
        polls_[i].fd = -1;
    }
    std::vector<pid_t> pids_;
    std::vector<pollfd> polls_;  // pidfds, -1 once reaped (poll skips negative descriptors)
};

}  // namespace parbench::detail

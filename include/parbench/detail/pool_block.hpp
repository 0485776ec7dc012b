#pragma once
// The process pool's control block: a shared memfd mapping that the parent and its workers share, its layout as
// each side sees it, and the workers' loop. A run copies the kernel (trivially copyable bytes) into the block and
// bumps a generation word; each worker runs its chunk, writes its result to its own slot and counts down. Both
// sides wait with wait_while on a shared futex word, so a pool whose processes fit the CPUs dispatches without a
// system call. The parent's side, dispatch and wait, is pool_transport.hpp.
//
// A forked worker calls the kernel through the function pointer the parent stored; a worker that is not a copy
// of the caller finds the same function in a registry under the kernel's type name (registry.hpp), which the
// block carries beside it.
//
// A run is static (worker i runs chunk i of W) or dynamic (process_pool.dynamic): [0, n) is cut into more chunks
// than workers and every worker, the parent included, takes the next from a counter in the block until none is
// left, combining their results into its own slot.

#include <fcntl.h>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

#include "../chunk.hpp"
#include "../error.hpp"
#include "../kernel.hpp"
#include "../payload.hpp"
#include "child.hpp"
#include "fd.hpp"
#include "fork_join.hpp"
#include "registry.hpp"
#include "shm.hpp"
#include "spin.hpp"
#include "wait.hpp"

namespace parbench::detail {
// Runs one chunk in a worker: the kernel and state are in the control block, the result goes to `result`, or is
// combined with the one there when `combine` is true. Returns false if the kernel threw, with its message in
// `message`. A payload kernel's data (payload.hpp) is in the pool's data area, `data`: n input elements, then n
// output elements; nullptr runs it on the caller's own arrays (the chunk the caller runs itself).
using pool_invoke_fn = bool (*)(const void* kernel, chunk c, std::uint64_t n, void* state, void* result, bool combine,
                                char* message, void* data) noexcept;

// The control block's layout, as the parent and every worker see it through their own mapping of it, and a
// worker's loop.
class pool_block {
public:
    static constexpr std::size_t kernel_capacity = max_kernel_size;
    static constexpr std::size_t result_capacity = max_result_size;
    static constexpr std::size_t state_capacity = max_state_size;
    static constexpr std::size_t message_capacity = 240;
    static constexpr std::size_t key_capacity = 224;

    struct alignas(cache_line) control {
        std::atomic<std::uint32_t> generation{0};  // bumped per dispatch; the workers' futex word
        std::atomic<std::uint32_t> worker_sleepers{0};
        std::atomic<std::uint32_t> stopping{0};
        pool_invoke_fn invoke = nullptr;   // valid in forked workers only
        std::uint32_t invoke_version = 0;  // bumped when invoke (and key) change
        std::uint64_t n = 0;
        std::uint64_t chunks = 0;         // 0: static, chunk i of `workers` for worker i; else dynamic, from `next`
        std::atomic<int> parent_cpu{-1};  // where the parent last dispatched from
        std::uint32_t workers = 0;        // chunks in all
        std::uint32_t first = 0;          // chunks [0, first) run in the parent
        std::int64_t worker_spin_ns = 0;
        char key[key_capacity] = {};  // invoke's kernel type name, for workers that are not forks
        // The data area that ships a payload kernel's data (a memfd of the parent's, opened by the workers through
        // /proc/<data_pid>/fd/<data_fd>), and a version bumped when it is replaced by a larger one; 0: none yet.
        std::int32_t data_pid = 0;
        std::int32_t data_fd = -1;
        std::uint32_t data_version = 0;
        alignas(cache_line) std::atomic<std::uint32_t> remaining{0};  // workers still running; the parent's futex word
        std::atomic<std::uint32_t> parent_sleepers{0};
        std::atomic<int> worker_cpu{-1};  // where a worker last waited (any worker: a hint, not a census)
        alignas(cache_line) std::atomic<std::uint64_t> next{0};  // the next dynamic chunk to hand out
        alignas(cache_line) std::byte kernel[kernel_capacity];
        alignas(cache_line) std::byte state[state_capacity];
    };
    struct alignas(cache_line) worker_slot {
        alignas(cache_line) std::byte result[result_capacity];
        std::atomic<std::uint32_t> done{0};  // the generation this worker finished last
        bool ok = true;
        bool ran = false;  // whether `result` holds a result: a dynamic run may leave a worker none
        char message[message_capacity] = {};
    };
    static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "the control block is shared between processes");
    static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "the control block is shared between processes");

    static std::size_t bytes(unsigned worker_processes) noexcept {
        return sizeof(control) + sizeof(worker_slot) * worker_processes;
    }

    explicit pool_block(void* base) noexcept : base_(static_cast<std::byte*>(base)) {}

    control& ctl() const noexcept { return *reinterpret_cast<control*>(base_); }
    // Worker i's slot (i >= first: the parent's own chunks need none).
    worker_slot* slot(unsigned i) const noexcept {
        return reinterpret_cast<worker_slot*>(base_ + sizeof(control)) + (i - ctl().first);
    }

    // Worker i's share of the dispatched run: its chunk (static), or chunks from the counter until none is left or
    // one throws (dynamic). `ran` says whether `result` holds anything; false if the kernel threw.
    // `data`: the pool's data area as this process maps it (invoke_chunk), nullptr in the caller.
    bool run_share(pool_invoke_fn invoke, unsigned i, void* result, bool& ran, char* message,
                   void* data) const noexcept {
        control& c = ctl();
        if (c.chunks == 0) {
            ran = true;
            return invoke(c.kernel, chunk_of(c.n, c.workers, i), c.n, c.state, result, false, message, data);
        }
        ran = false;
        for (std::uint64_t k; (k = c.next.fetch_add(1, std::memory_order_relaxed)) < c.chunks;) {
            if (!invoke(c.kernel, chunk_of(c.n, c.chunks, k), c.n, c.state, result, ran, message, data)) return false;
            ran = true;
        }
        return true;
    }

    // A worker's life: wait for the next generation, run its chunk, report, repeat until stopped. A forked
    // worker calls the parent's function pointer; any other looks the function up by the kernel's name.
    int work(unsigned i, bool forked) noexcept {
        control& c = ctl();
        worker_slot& s = *slot(i);
        const std::chrono::nanoseconds spin(c.worker_spin_ns);
        std::uint32_t seen = s.done.load(std::memory_order_relaxed);
        std::uint32_t version = 0;
        pool_invoke_fn invoke = nullptr;
        shared_mapping data;  // the parent's data area as of data_version `mapped`
        std::uint32_t mapped = 0;
        for (;;) {
            c.worker_cpu.store(current_cpu(), std::memory_order_relaxed);
            seen = wait_while(c.generation, seen,
                              {.sleepers = &c.worker_sleepers, .spin = spin, .other_cpu = &c.parent_cpu});
            if (c.stopping.load(std::memory_order_acquire)) return 0;
            if (forked) {
                invoke = c.invoke;
            } else if (invoke == nullptr || version != c.invoke_version) {
                version = c.invoke_version;
                invoke = find_registered<pool_invoke_fn>(std::string_view(c.key, ::strnlen(c.key, key_capacity)));
            }
            if (c.data_version != mapped) {
                data = map_data_area(c.data_pid, c.data_fd);
                mapped = c.data_version;
            }
            if (invoke != nullptr) {
                s.ok = run_share(invoke, i, s.result, s.ran, s.message,
                                 data.data() != nullptr ? data.data() : &no_data_area);
            } else {
                s.ok = false;
                s.ran = false;
                std::strncpy(s.message,
                             "the worker's program does not serve this kernel (does its main call "
                             "parbench::worker_main first?)",
                             message_capacity - 1);
            }
            s.done.store(seen, std::memory_order_release);
            if (c.remaining.fetch_sub(1, std::memory_order_seq_cst) == 1) wake_waiters(c.remaining, &c.parent_sleepers);
        }
    }

    // What a worker passes as `data` when it has no data area (a payload kernel's worker then fails).
    static inline std::byte no_data_area{};

private:
    // The parent's data area, mapped here; an empty mapping if it cannot be (the payload kernel's chunk then
    // fails with a message; other kernels never look).
    static shared_mapping map_data_area(std::int32_t pid, std::int32_t fd) noexcept {
        try {
            const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
            const unique_fd file(::open(path.c_str(), O_RDWR | O_CLOEXEC));
            if (!file) return {};
            return memfd_mapping::of_fd(file.get());
        } catch (...) {
            return {};
        }
    }

    std::byte* base_;
};

// In a pool worker that is not a fork of the caller (spawned, or forked by the fork server): maps the control
// block from `fd` and serves as worker i until the pool stops. Returns the exit status.
inline int serve_pool_worker(int fd, unsigned i) noexcept {
    try {
        const shared_mapping map = memfd_mapping::of_fd(fd);
        if (map.size() < pool_block::bytes(0)) return exit_unsent;
        pool_block block(map.data());
        if (i < block.ctl().first || i >= block.ctl().workers ||
            map.size() < pool_block::bytes(block.ctl().workers - block.ctl().first))
            return exit_unsent;
        return block.work(i, false);
    } catch (...) {
        return exit_uncaught;
    }
}

// What a worker runs for kernel K.
template <kernel K>
bool invoke_chunk(const void* kernel, chunk c, std::uint64_t n, void* state, void* result, bool combine, char* message,
                  void* data) noexcept {
    using R = typename K::result;
    try {
        const K& k = *std::launder(static_cast<const K*>(kernel));
        auto* s = std::launder(static_cast<state_t<K>*>(state));  // no_state for a plain kernel: never read
        R r{};
        bool done = false;
        if constexpr (payload_kernel<K>) {
            if (data != nullptr) {
                using T = typename K::element;
                if (data == &pool_block::no_data_area)
                    throw std::runtime_error("parbench: this pool worker cannot map the pool's data area");
                T* in = static_cast<T*>(data);
                r = k.run(c, std::span<const T>(in + c.begin, c.size()), std::span<T>(in + n + c.begin, c.size()));
                done = true;
            }
        }
        (void)n;
        (void)data;
        if (!done) r = run_chunk(k, c, *s);
        ::new (result) R(combine ? K::combine(*std::launder(static_cast<const R*>(result)), r) : r);
        return true;
    } catch (...) {
        std::strncpy(message, current_exception_message(), pool_block::message_capacity - 1);
        message[pool_block::message_capacity - 1] = '\0';
        return false;
    }
}

// Registers K's invoke_chunk for pool workers that are not forks; name it where a pool's run<K> is instantiated.
template <kernel K>
inline const bool pool_kernel_registered = registered<K, pool_invoke_fn, &invoke_chunk<K>>;

}  // namespace parbench::detail

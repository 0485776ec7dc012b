// overhead/contention/<variant>/workers:W: W threads (a thread_pool's workers) each doing ops_per_worker
// operations on shared state: ns_per_op (each worker's time per operation) and items_per_second. A wrong total
// (a lost update, a leaked reference) is an error, never a time (docs/overhead.md).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "harness.hpp"
#include "parbench/detail/fork_join.hpp"

namespace parbench::bench {
namespace {

constexpr std::uint64_t ops_per_worker = 1 << 14;

// The worker's index, from its chunk: n = W * ops_per_worker cuts into chunks of exactly ops_per_worker.
constexpr std::uint64_t worker_of(chunk c) noexcept { return c.begin / ops_per_worker; }

// What every variant shares: it counts its operations, and the total must be their number.
struct counted_ops {
    using result = std::uint64_t;
    static constexpr result combine(result a, result b) noexcept { return a + b; }
    constexpr result expected(std::uint64_t n) const noexcept { return n; }
};

struct one_atomic_ops : counted_ops {
    static constexpr std::string_view name = "one_atomic";
    struct shared_state {
        std::atomic<std::uint64_t> counter{0};
    };
    result run(chunk c, shared_state& s) const noexcept {
        for (std::uint64_t i = c.begin; i < c.end; ++i) s.counter.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    result finish(shared_state& s, result) const noexcept { return s.counter.load(); }
};

// N counters starting on a cache line of their own, worker i incrementing counter i % N.
template <class Counter, std::size_t N>
struct per_worker_ops : counted_ops {
    struct shared_state {
        alignas(::parbench::detail::cache_line) Counter counters[N]{};
    };
    static std::atomic<std::uint64_t>& at(std::atomic<std::uint64_t>& c) noexcept { return c; }
    static std::atomic<std::uint64_t>& at(::parbench::detail::padded<std::atomic<std::uint64_t>>& c) noexcept {
        return c.value;
    }
    result run(chunk c, shared_state& s) const noexcept {
        auto& mine = at(s.counters[worker_of(c) % N]);
        for (std::uint64_t i = c.begin; i < c.end; ++i) mine.fetch_add(1, std::memory_order_relaxed);
        return 0;
    }
    result finish(shared_state& s, result) const noexcept {
        result sum = 0;
        for (auto& x : s.counters) sum += at(x).load();
        return sum;
    }
};

// Eight counters on one cache line: false sharing, no logical sharing.
struct same_line_ops : per_worker_ops<std::atomic<std::uint64_t>, 8> {
    static constexpr std::string_view name = "same_line";
};

// One counter per cache line per worker (64 lines; workers beyond 64 share them).
struct padded_ops : per_worker_ops<::parbench::detail::padded<std::atomic<std::uint64_t>>, 64> {
    static constexpr std::string_view name = "padded";
};

struct mutex_ops : counted_ops {
    static constexpr std::string_view name = "mutex";
    struct shared_state {
        std::mutex m;
        std::uint64_t counter = 0;
    };
    result run(chunk c, shared_state& s) const {
        for (std::uint64_t i = c.begin; i < c.end; ++i) {
            std::lock_guard lock(s.m);
            ++s.counter;
        }
        return 0;
    }
    result finish(shared_state& s, result) const noexcept { return s.counter; }
};

// Copies (and drops) one shared std::shared_ptr: every copy is an atomic increment and decrement of one shared
// reference count, which is what CPython would do on every object access without its GIL (seed 002 in
// docs/seeds.md). The total counts the copies, and is wrong if a reference leaked.
struct shared_ptr_ops : counted_ops {
    static constexpr std::string_view name = "shared_ptr";
    struct shared_state {
        std::shared_ptr<const std::uint64_t> object = std::make_shared<const std::uint64_t>(1);
    };
    result run(chunk c, shared_state& s) const noexcept {
        result sum = 0;
        for (std::uint64_t i = c.begin; i < c.end; ++i) {
            std::shared_ptr<const std::uint64_t> copy = s.object;
            benchmark::DoNotOptimize(copy);
            sum += *copy;
        }
        return sum;
    }
    result finish(shared_state& s, result copies) const noexcept { return s.object.use_count() == 1 ? copies : 0; }
};

template <class K>
void contention(benchmark::State& state, unsigned workers) {
    static_assert(stateful_kernel<K>);
    try {
        strategies::thread_pool pool(workers);
        const K k{};
        const std::uint64_t n = workers * ops_per_worker;
        const auto seconds = detail::checked_loop(
            state, [&] { return pool.run(k, n); }, k.expected(n));
        if (!seconds) return;
        // Each worker's time per operation: flat in W where nothing is shared, rising with W where it is.
        state.counters["ns_per_op"] = *seconds / static_cast<double>(ops_per_worker) * 1e9;
        state.SetItemsProcessed(static_cast<std::int64_t>(n) * state.iterations());
        if (workers > hardware_threads()) state.SetLabel("oversubscribed");
    } catch (const std::exception& e) {
        fail(state, e.what());
    }
}

template <class... K>
void add_contention(const std::vector<unsigned>& workers) {
    (
        [&] {
            for (const unsigned w : workers) {
                const std::string name =
                    "overhead/contention/" + std::string(K::name) + "/workers:" + std::to_string(w);
                register_benchmark(name, [w](benchmark::State& state) { contention<K>(state, w); })->UseRealTime();
            }
        }(),
        ...);
}

}  // namespace

// Order 52: after overhead/dispatch (51), before overhead/idle (53).
PARBENCH_FAMILY(52, contention) {
    add_contention<one_atomic_ops, same_line_ops, padded_ops, mutex_ops, shared_ptr_ops>(workers_in_force());
}

}  // namespace parbench::bench

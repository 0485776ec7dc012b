#pragma once
// The strategy concept: what the benchmark harness and the tests require of a way of running a kernel over
// [0, n) with W workers, and the pieces a strategy is built from. docs/extending.md has the whole checklist.

#include <concepts>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "chunk.hpp"
#include "detail/fork_join.hpp"
#include "error.hpp"
#include "kernel.hpp"

namespace parbench {

namespace detail {

// Stand-ins for "any kernel": a strategy's run() must take a plain kernel and one with shared state.
struct any_plain_kernel {
    using result = std::uint64_t;
    static constexpr std::string_view name = "any_plain_kernel";
    result run(chunk c) const { return c.size(); }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};
struct any_stateful_kernel : any_plain_kernel {
    static constexpr std::string_view name = "any_stateful_kernel";
    struct shared_state {
        std::uint64_t unused = 0;
    };
    result run(chunk c, shared_state&) const { return c.size(); }
    result finish(shared_state&, result combined) const { return combined; }
};

}  // namespace detail

// A strategy S:
// - S::name: its name in benchmark names and test names (a string_view; dots are allowed, slashes are not);
// - S::sweeps_workers: true if the benchmark matrix runs it at every worker count, false for one worker only;
// - S(workers): builds it for `workers` workers; 0 or more than max_workers is std::invalid_argument with the
//   text detail::check_workers gives (derive from worker_count to get that);
// - s.run(k, n): runs kernel k over [0, n) cut into workers chunks (chunk_of), any kernel, plain or stateful,
//   and returns the combined total (finish() applied); a kernel that throws is a worker_error naming the
//   worker; the strategy stays usable after it. In-process strategies get all of this from fork_join.
template <class S>
concept strategy = std::constructible_from<S, unsigned> && requires(S& s, std::uint64_t n) {
    { S::name } -> std::convertible_to<std::string_view>;
    { S::sweeps_workers } -> std::convertible_to<bool>;
    { s.run(detail::any_plain_kernel{}, n) } -> std::same_as<std::uint64_t>;
    { s.run(detail::any_stateful_kernel{}, n) } -> std::same_as<std::uint64_t>;
};

// A strategy's worker count, checked before anything else of the strategy is built: derive from it for the
// constructor check every strategy makes and for workers().
class worker_count {
public:
    explicit worker_count(unsigned workers) : workers_(workers) { detail::check_workers(workers); }
    [[nodiscard]] unsigned workers() const noexcept { return workers_; }

protected:
    unsigned workers_;
};

// One fork-join run of kernel k over [0, n) in `workers` chunks: launch(job) must call job(i) exactly once for
// every i in [0, workers), from any threads, and return once all calls have returned. fork_join provides the
// result slots, the kernel's shared state, the first worker's error (rethrown as a worker_error) and the
// combine; job(i) never throws. A strategy whose workers share the caller's memory is its launch and no more.
using detail::fork_join;

// A list of types: the strategies parbench has (all_strategies, parbench.hpp) and the peers (peers.hpp).
template <class... T>
struct type_list {};

namespace detail {
template <class List, template <class...> class To>
struct rebind_list;
template <template <class...> class From, class... T, template <class...> class To>
struct rebind_list<From<T...>, To> {
    using type = To<T...>;
};
}  // namespace detail

// The same types in another variadic template, e.g. rebind_list<all_strategies, ::testing::Types>.
template <class List, template <class...> class To>
using rebind_list = typename detail::rebind_list<List, To>::type;

// Whether every type in List is a strategy.
template <class List>
inline constexpr bool all_strategies_in = false;
template <template <class...> class L, class... S>
inline constexpr bool all_strategies_in<L<S...>> = (strategy<S> && ...);

}  // namespace parbench

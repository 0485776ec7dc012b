#pragma once
// The kernel concept: a small, trivially copyable value (its parameters) that any strategy, a forked process
// included, can carry to a worker and run on a chunk.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string_view>
#include <type_traits>

#include "chunk.hpp"

namespace parbench {

// What every kernel has: a trivially copyable result that operator<< prints (a wrong total is reported with
// it), an associative and commutative combine, an oracle expected(n) and a name (a string without slashes: it
// is the first part of every benchmark name). Totals never depend on how [0, n) was cut.
template <class K>
concept kernel_base = std::is_trivially_copyable_v<K> && requires(const K& k, std::uint64_t n, std::ostream& os) {
    typename K::result;
    requires std::is_trivially_copyable_v<typename K::result>;
    requires std::equality_comparable<typename K::result>;
    os << std::declval<const typename K::result&>();
    { K::combine(typename K::result{}, typename K::result{}) } -> std::same_as<typename K::result>;
    { k.expected(n) } -> std::same_as<typename K::result>;
    { K::name } -> std::convertible_to<std::string_view>;
};

// A kernel whose chunks are pure functions: result run(chunk) const.
template <class K>
concept plain_kernel = kernel_base<K> && requires(const K& k, chunk c) {
    { k.run(c) } -> std::same_as<typename K::result>;
};

// A kernel whose workers mutate shared state (the locked counter). The strategy places one shared_state where
// all its workers see it (the heap for threads, a MAP_SHARED mapping for processes), so shared_state must be
// constructible in place there and must work across processes (process-shared locks, lock-free atomics).
// finish() turns the shared state and the combined per-chunk results into the total.
template <class K>
concept stateful_kernel = kernel_base<K> && requires(const K& k, chunk c, typename K::shared_state& s) {
    requires std::is_default_constructible_v<typename K::shared_state>;
    { k.run(c, s) } -> std::same_as<typename K::result>;
    { k.finish(s, typename K::result{}) } -> std::same_as<typename K::result>;
};

template <class K>
concept kernel = plain_kernel<K> || stateful_kernel<K>;

// What process_pool can carry: it copies the kernel, its result and its shared state into fixed slots of a
// MAP_SHARED mapping (and processes.pipe sends a result in one atomic pipe write, far below these). A kernel that
// runs under every strategy (the benchmark matrix, the typed tests) must be a portable_kernel; the in-process
// strategies take any kernel.
inline constexpr std::size_t max_kernel_size = 256;
inline constexpr std::size_t max_result_size = 256;
inline constexpr std::size_t max_state_size = 1024;
inline constexpr std::size_t max_alignment = 64;  // a cache line

namespace detail {

struct no_state {};

// The state a strategy must provide for kernel K: K::shared_state, or nothing.
template <class K>
struct state_of {
    using type = no_state;
};
template <stateful_kernel K>
struct state_of<K> {
    using type = typename K::shared_state;
};
template <class K>
using state_t = typename state_of<K>::type;

// Runs one chunk, passing the shared state to kernels that have one. Strategies call this, never run().
template <kernel K>
[[nodiscard]] typename K::result run_chunk(const K& k, chunk c, state_t<K>& s) {
    if constexpr (stateful_kernel<K>)
        return k.run(c, s);
    else
        return (void)s, k.run(c);
}

// Turns the combined per-chunk results into the total, in the caller once every chunk is done: finish(state,
// combined) of a stateful kernel, finish(combined) of a plain kernel that has one (a payload kernel reads the
// output that came back, payload.hpp).
template <kernel K>
[[nodiscard]] typename K::result finish(const K& k, state_t<K>& s, typename K::result combined) {
    if constexpr (stateful_kernel<K>)
        return k.finish(s, combined);
    else if constexpr (requires { k.finish(combined); })
        return (void)s, k.finish(combined);
    else
        return (void)s, combined;
}

}  // namespace detail

template <class K>
concept portable_kernel = kernel<K> && sizeof(K) <= max_kernel_size && alignof(K) <= max_alignment &&
                          sizeof(typename K::result) <= max_result_size && alignof(typename K::result) <= max_alignment
                          && sizeof(detail::state_t<K>) <= max_state_size &&
                          alignof(detail::state_t<K>) <= max_alignment;

}  // namespace parbench

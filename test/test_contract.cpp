// The extension contract itself: the kernel, portable_kernel and strategy concepts accept what docs/extending.md
// says and refuse the rest, and the one list of strategies has every strategy once, under distinct names.

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>

#include "parbench/parbench.hpp"

namespace {

struct plain {
    using result = std::uint64_t;
    static constexpr std::string_view name = "plain";
    result run(parbench::chunk c) const { return c.size(); }
    static result combine(result a, result b) { return a + b; }
    result expected(std::uint64_t n) const { return n; }
};
static_assert(parbench::kernel<plain> && parbench::portable_kernel<plain>);

struct unprintable {
    int v = 0;
    [[maybe_unused]] friend bool operator==(unprintable, unprintable) = default;  // only the concepts look
};
struct unprintable_result : plain {
    using result = unprintable;
    result run(parbench::chunk) const { return {}; }
    static result combine(result a, result) { return a; }
    result expected(std::uint64_t) const { return {}; }
};
static_assert(!parbench::kernel<unprintable_result>, "a result must print with operator<<");

struct too_big : plain {
    std::array<std::byte, parbench::max_kernel_size + 1> payload{};
};
static_assert(parbench::kernel<too_big> && !parbench::portable_kernel<too_big>);

struct big_state : plain {
    struct shared_state {
        std::array<std::byte, parbench::max_state_size + 1> bytes{};
    };
    result run(parbench::chunk c, shared_state&) const { return c.size(); }
    result finish(shared_state&, result r) const { return r; }
};
static_assert(parbench::kernel<big_state> && !parbench::portable_kernel<big_state>);

struct nameless : parbench::worker_count {
    [[maybe_unused]] static constexpr bool sweeps_workers = true;  // only the concepts look
    using worker_count::worker_count;
    template <parbench::kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        return parbench::fork_join(k, n, workers(), [](auto& job) { job(0); });
    }
};
static_assert(!parbench::strategy<nameless>);

struct plain_only : nameless {
    [[maybe_unused]] static constexpr std::string_view name = "plain_only";  // only the concepts look
    template <parbench::plain_kernel K>
    typename K::result run(const K& k, std::uint64_t n) const {
        return nameless::run(k, n);
    }
};
static_assert(!parbench::strategy<plain_only>, "a strategy runs stateful kernels too");

template <class... T>
struct list {};
static_assert(std::is_same_v<parbench::rebind_list<parbench::type_list<int, plain>, list>, list<int, plain>>);

// sequential first: the matrix reads its time at each size as every other strategy's baseline.
template <class First, class... S>
constexpr bool starts_with_sequential(parbench::type_list<First, S...>) {
    return std::is_same_v<First, parbench::strategies::sequential>;
}
static_assert(starts_with_sequential(parbench::all_strategies{}));

template <class... S>
std::set<std::string> names(parbench::type_list<S...>) {
    return {std::string(S::name)...};
}

TEST(contract, every_strategy_in_the_list_has_its_own_name) {
    const auto all = names(parbench::all_strategies{});
    const auto count = []<class... S>(parbench::type_list<S...>) { return sizeof...(S); };
    EXPECT_EQ(all.size(), count(parbench::all_strategies{}));
    for (const auto& n : all) EXPECT_EQ(n.find('/'), std::string::npos) << n;
}

}  // namespace

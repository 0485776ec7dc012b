#pragma once
// The peer strategies this build has: openmp and tbb, each present only where CMake found its library (link
// parbench::openmp / parbench::tbb, which define PARBENCH_HAS_OPENMP / PARBENCH_HAS_TBB). with_peers<List>
// appends them to a list of strategies, so all_strategies (parbench.hpp) has them without #ifs.

#include <string>

#include "strategy.hpp"

#if defined(PARBENCH_HAS_OPENMP)
#include "strategies/openmp.hpp"
#include "strategies/openmp_dynamic.hpp"
#endif
#if defined(PARBENCH_HAS_TBB)
#include <oneapi/tbb/version.h>

#include "strategies/tbb.hpp"
#endif

namespace parbench {
namespace detail {

#if defined(PARBENCH_HAS_OPENMP) && defined(PARBENCH_HAS_TBB)
using peers = type_list<strategies::openmp, strategies::openmp_dynamic, strategies::tbb>;
#elif defined(PARBENCH_HAS_OPENMP)
using peers = type_list<strategies::openmp, strategies::openmp_dynamic>;
#elif defined(PARBENCH_HAS_TBB)
using peers = type_list<strategies::tbb>;
#else
using peers = type_list<>;
#endif

template <class List, class Peers>
struct append_peers;
template <template <class...> class L, class... S, class... P>
struct append_peers<L<S...>, type_list<P...>> {
    using type = L<S..., P...>;
};

}  // namespace detail

// List (any variadic list of strategies: bench's strategy_list, gtest's Types) followed by this build's peers.
template <class List>
using with_peers = typename detail::append_peers<List, detail::peers>::type;

// The peers built in, with their versions, e.g. "openmp (OpenMP 201511), tbb (oneTBB 2021.8.0)"; "none" if none.
[[nodiscard]] inline std::string peers_description() {
    std::string out;
#if defined(PARBENCH_HAS_OPENMP)
    out += "openmp (OpenMP " + std::to_string(_OPENMP) + ")";
#endif
#if defined(PARBENCH_HAS_TBB)
    if (!out.empty()) out += ", ";
    out += std::string("tbb (oneTBB ") + TBB_runtime_version() + ")";
#endif
    return out.empty() ? "none" : out;
}

}  // namespace parbench

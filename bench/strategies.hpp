#pragma once
// The strategies of the benchmark matrix: every strategy parbench has (parbench::all_strategies, where a new
// strategy is one entry), peers included.

#include "harness.hpp"
#include "parbench/parbench.hpp"

namespace parbench::bench {

using all = rebind_list<all_strategies, strategy_list>;

}  // namespace parbench::bench

#pragma once
// The strategies the typed tests cover: all of parbench's, so a new strategy joins the equality, error and
// argument tests by its entry in parbench::all_strategies.

#include <gtest/gtest.h>

#include "parbench/parbench.hpp"

namespace parbench::test {

// Every strategy parbench has (parbench::all_strategies, where a new strategy is one entry), peers included.
using all_strategies = rebind_list<parbench::all_strategies, ::testing::Types>;

// gtest prints the strategy's (or kernel's) own name instead of a mangled type.
struct strategy_name {
    template <class S>
    static std::string GetName(int) {
        std::string n(S::name);
        for (auto& c : n)
            if (c == '.') c = '_';
        return n;
    }
};

}  // namespace parbench::test

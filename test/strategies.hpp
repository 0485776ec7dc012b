#pragma once
// Every strategy the tests cover. A new strategy joins the equality, error and argument tests by one entry here.

#include <gtest/gtest.h>

#include "parbench/parbench.hpp"
#include "parbench/peers.hpp"

namespace parbench::test {

// with_peers appends openmp and tbb where the build has them.
using all_strategies =
    with_peers<::testing::Types<strategies::sequential, strategies::single_thread, strategies::threads,
                                strategies::thread_pool, strategies::thread_pool_condvar,
                                strategies::processes_pipe, strategies::processes_shm,
                                strategies::processes_spawn, strategies::processes_forkserver, strategies::process_pool,
                                strategies::process_pool_executor, strategies::gil_threads>>;

// gtest prints the strategy's own name instead of a mangled type.
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

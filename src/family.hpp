#pragma once
// Benchmark families: a family of benchmarks (the kernel matrix, gil/..., overhead/...) registers itself from its
// own file with PARBENCH_FAMILY(order, name) { ... }, and registers each benchmark with register_benchmark.

#include <benchmark/benchmark.h>

#include <string>
#include <utility>

#include "interrupt.hpp"

namespace parbench::bench {

// benchmark::RegisterBenchmark for every family: the body is skipped once the run is interrupted (see
// interrupt.hpp), so a family's own loop needs no check of its own to be skipped.
template <class F>
benchmark::internal::Benchmark* register_benchmark(const std::string& name, F body) {
    return benchmark::RegisterBenchmark(name.c_str(), [body = std::move(body)](benchmark::State& state) mutable {
        if (!interrupt::stop_if_requested(state)) body(state);
    });
}

// Functions main() calls once before the first benchmark, after registration (not for --benchmark_list_tests):
// a family that warms something up registers it with at_run_start().
void at_run_start(void (*fn)());
void run_start();

// A family of benchmarks (the kernel matrix, gil/..., overhead/...) registers itself from its own file in bench/
// with PARBENCH_FAMILY(order, name) { ... }; main() calls every family's body, lowest order first, once the
// options are parsed. The order fixes the order of the output: the matrix is 0.
struct family {
    family(int order, const char* name, void (*add)());
};
void register_families();

#define PARBENCH_FAMILY(order, name)                                                                          \
    static void parbench_family_##name();                                                                     \
    static const ::parbench::bench::family parbench_family_reg_##name{order, #name, &parbench_family_##name}; \
    static void parbench_family_##name()

}  // namespace parbench::bench

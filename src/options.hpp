#pragma once
// bench_parallel's own command line: the --parbench_* flags, parsed before Google Benchmark sees argv.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parbench::bench {

enum class profile { quick, normal, full };

[[nodiscard]] std::string_view to_string(profile p) noexcept;

struct slowdown {
    std::string kernel;
    double fraction = 0.0;
};

struct options {
    profile sweep = profile::normal;
    std::optional<std::vector<unsigned>> workers;  // replaces the machine-sized sweep
    bool min_time_given = false;                   // --benchmark_min_time was on the command line
    std::optional<std::string> wrong_total;        // test knob: this kernel computes a wrong total
    std::optional<slowdown> slow;                  // test knob: this kernel runs slower by a fraction
};

// Removes the --parbench_* flags from argv (updating argc) and returns them. Throws std::invalid_argument with
// a message for the user on a bad value or an unknown --parbench_ flag.
[[nodiscard]] options parse_options(int& argc, char** argv);

void print_help();

// The options in force, set once by main() before any benchmark is registered.
[[nodiscard]] const options& current_options();
void set_current_options(options o);

}  // namespace parbench::bench

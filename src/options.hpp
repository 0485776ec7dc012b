#pragma once
// bench_parallel's own command line: the --parbench_* flags, parsed before Google Benchmark sees argv.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parbench::bench {

enum class profile { quick, default_, full };

[[nodiscard]] std::string_view to_string(profile p) noexcept;

struct slowdown {
    std::string kernel;
    double fraction = 0.0;
};

struct options {
    profile run_profile = profile::default_;
    std::optional<std::vector<unsigned>> workers;  // replaces the machine-sized sweep
    // Google Benchmark flags that bench_parallel reads too (they stay in argv for Google Benchmark).
    bool min_time_given = false;      // --benchmark_min_time
    bool repetitions_given = false;   // --benchmark_repetitions
    bool interleaving_given = false;  // --benchmark_enable_random_interleaving
    bool aggregates_given = false;    // --benchmark_display_aggregates_only or --benchmark_report_aggregates_only
    bool list_only = false;           // --benchmark_list_tests (without =false)
    std::string out_path;             // --benchmark_out, empty if none
    std::string out_format = "json";  // --benchmark_out_format
    // Benchmarks that fork this process while timed top its anonymous memory up to this many MiB first
    // (fork_parent in machine.hpp); 0 forks it as it is.
    unsigned fork_parent_mib = 4;
    // How long a run waits on its workers before it counts them as hung (--parbench_worker_deadline, in
    // seconds): worker processes, and under mpirun the other ranks (the job then ends). nullopt: max(the floor,
    // worker_deadline_scale x the slowest run so far), the floor default_worker_deadline_floor_s for processes
    // and default_mpi_deadline_floor_s for ranks.
    std::optional<unsigned> worker_deadline_s;
    // --parbench_mpi_deadline, the older flag, for the ranks alone: S seconds (0: no deadline); it wins over
    // --parbench_worker_deadline for them.
    std::optional<double> mpi_deadline;
    std::optional<std::string> wrong_total;  // test knob: this kernel computes a wrong total
    std::optional<slowdown> slow;            // test knob: this kernel runs slower by a fraction
};

inline constexpr unsigned default_worker_deadline_floor_s = 30;
inline constexpr unsigned default_mpi_deadline_floor_s = 60;
inline constexpr unsigned worker_deadline_scale = 10;
inline constexpr unsigned max_worker_deadline_s = 86400;

// How precisely a profile measures: Google Benchmark's min time per repetition, and repetitions per benchmark.
struct precision {
    double min_time = 0.1;
    unsigned repetitions = 1;
};
[[nodiscard]] precision precision_of(profile p) noexcept;

// The Google Benchmark flags the profile adds in front of the command line: its min time unless
// --benchmark_min_time is given, its repetitions (with the console showing aggregates only) unless
// --benchmark_repetitions or --benchmark_min_time is given: whoever sets either chooses the precision.
[[nodiscard]] std::vector<std::string> profile_flags(const options& o);
// True when the repetitions in force are the profile's, so the console may show one median line per benchmark.
[[nodiscard]] bool profile_repeats(const options& o);

// Removes the --parbench_* flags from argv (updating argc) and returns them. Throws std::invalid_argument with
// a message for the user on a bad value or an unknown --parbench_ flag.
[[nodiscard]] options parse_options(int& argc, char** argv);

void print_help();

// Why a --benchmark_filter is refused, or empty. std::regex compiles and matches by recursion, so a long or
// deeply nested pattern overflows the stack (20,000 nested parentheses crash it); this refuses one longer than
// max_filter_length characters or nested deeper than max_filter_depth groups before std::regex sees it.
inline constexpr std::size_t max_filter_length = 8192;
inline constexpr std::size_t max_filter_depth = 32;
[[nodiscard]] std::string filter_problem(std::string_view filter);

// The options in force, set once by main() before any benchmark is registered.
[[nodiscard]] const options& current_options();
void set_current_options(options o);

}  // namespace parbench::bench

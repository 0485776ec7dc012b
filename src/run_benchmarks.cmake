# What `cmake --build <dir> --target run_benchmarks` (the bench workflow preset) runs: bench_parallel with ARGS,
# its JSON at JSON, then the report at REPORT. ctest's bench.run_benchmarks runs this same script on a small filter.
#   cmake -DBENCH=<bench_parallel> -DARGS=<arguments, split as a shell would> -DJSON=<file> -DREPORT=<report.md>
#         -DTOOLS=<tools/> [-DPYTHON=<python3 for the report>] [-DBUDGET_S=<seconds>] -P run_benchmarks.cmake
# Two passes: the first measures every configuration; where a Python is found, parbench-plan then picks the
# comparisons whose intervals are still too wide to decide, and a second pass measures those again in what is
# left of BUDGET_S (default 290 s, the default profile's five minutes less a margin), into <JSON>.pass2.json. The
# report reads both. The report is written from whatever the run measured, also when a benchmark errored; the
# script then fails.
if(NOT DEFINED BUDGET_S)
  set(BUDGET_S 290)
endif()
separate_arguments(args UNIX_COMMAND "${ARGS}")
get_filename_component(json_dir "${JSON}" DIRECTORY)
file(MAKE_DIRECTORY "${json_dir}")
set(json2 "${JSON}.pass2.json")
file(REMOVE "${JSON}" "${json2}")  # so that a JSON found below is this run's
string(TIMESTAMP started "%s" UTC)
execute_process(COMMAND "${BENCH}" ${args} "--benchmark_out=${JSON}" --benchmark_out_format=json
                RESULT_VARIABLE bench_status)
if(NOT EXISTS "${JSON}")
  message(FATAL_ERROR "bench_parallel exited with ${bench_status} and wrote no JSON")
endif()
set(inputs "${JSON}")
if(PYTHON AND bench_status EQUAL 0)
  string(TIMESTAMP now "%s" UTC)
  math(EXPR left "${BUDGET_S} - (${now} - ${started})")
  execute_process(COMMAND "${PYTHON}" "${TOOLS}/parbench-plan" --budget-seconds ${left} "${JSON}"
                  OUTPUT_VARIABLE plan OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE plan_status)
  if(NOT plan_status EQUAL 0)
    message(FATAL_ERROR "parbench-plan exited with ${plan_status}; the JSON is ${JSON}")
  endif()
  if(plan)
    string(REPLACE "\n" ";" plan_args "${plan}")
    message("Second pass (${left} s left of ${BUDGET_S} s): measuring again what the first left undecided")
    execute_process(COMMAND "${BENCH}" ${args} ${plan_args} "--benchmark_out=${json2}" --benchmark_out_format=json
                    RESULT_VARIABLE bench_status)
    if(EXISTS "${json2}")
      list(APPEND inputs "${json2}")
    endif()
  else()
    message("No second pass: every comparison decided, or no time left (${left} s of ${BUDGET_S} s)")
  endif()
endif()
if(PYTHON)
  execute_process(COMMAND "${PYTHON}" "${TOOLS}/parbench-report" --answer --out "${REPORT}" ${inputs}
                  RESULT_VARIABLE report_status)
  if(NOT report_status EQUAL 0)
    message(FATAL_ERROR "parbench-report exited with ${report_status}; the JSON is ${JSON}")
  endif()
  message("Report: ${REPORT} (plots beside it); JSON: ${inputs}")
else()
  message("No python3 found: no report written; JSON: ${JSON}")
endif()
if(NOT bench_status EQUAL 0)
  message(FATAL_ERROR "bench_parallel exited with ${bench_status}: see the errors above and in the report")
endif()

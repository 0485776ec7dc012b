# What `cmake --build <dir> --target run_benchmarks` (the bench workflow preset) runs: bench_parallel with ARGS,
# its JSON at JSON, then the report at REPORT. ctest's bench.run_benchmarks runs this same script on a small filter.
#   cmake -DBENCH=<bench_parallel> -DARGS=<arguments, split as a shell would> -DJSON=<file> -DREPORT=<report.md>
#         -DTOOLS=<tools/> [-DPYTHON=<python3 for the report>] [-DBUDGET_S=<seconds>] [-DPASSES=<most passes>]
#         -P run_benchmarks.cmake
# Passes: the first measures every configuration; where a Python is found, parbench-plan then picks the
# comparisons whose intervals are still too wide to decide, and a further pass measures those again in what is
# left of BUDGET_S (default 290 s, the default profile's five minutes less a margin), into <JSON>.pass<K>.json;
# again, over every pass so far, until nothing is left undecided, less than MIN_PASS_S is left, or PASSES passes
# (default 6) have run. The report reads every pass. It is written from whatever the run measured, also when a
# benchmark errored; the script then fails.
if(NOT DEFINED BUDGET_S)
  set(BUDGET_S 290)
endif()
if(NOT DEFINED PASSES)
  set(PASSES 6)
endif()
set(MIN_PASS_S 15)  # a pass shorter than this measures too few repetitions to move an interval
separate_arguments(args UNIX_COMMAND "${ARGS}")
get_filename_component(json_dir "${JSON}" DIRECTORY)
file(MAKE_DIRECTORY "${json_dir}")
file(GLOB stale "${JSON}.pass*.json")
file(REMOVE "${JSON}" ${stale})  # so that every JSON found below is this run's
string(TIMESTAMP started "%s" UTC)
execute_process(COMMAND "${BENCH}" ${args} "--benchmark_out=${JSON}" --benchmark_out_format=json
                RESULT_VARIABLE bench_status)
if(NOT EXISTS "${JSON}")
  message(FATAL_ERROR "bench_parallel exited with ${bench_status} and wrote no JSON")
endif()
set(inputs "${JSON}")
set(pass 1)
while(PYTHON AND bench_status EQUAL 0 AND pass LESS PASSES)
  math(EXPR pass "${pass} + 1")
  string(TIMESTAMP now "%s" UTC)
  math(EXPR left "${BUDGET_S} - (${now} - ${started})")
  if(left LESS MIN_PASS_S)
    message("No pass ${pass}: ${left} s left of ${BUDGET_S} s")
    break()
  endif()
  execute_process(COMMAND "${PYTHON}" "${TOOLS}/parbench-plan" --budget-seconds ${left} ${inputs}
                  OUTPUT_VARIABLE plan OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE plan_status)
  if(NOT plan_status EQUAL 0)
    message(FATAL_ERROR "parbench-plan exited with ${plan_status}; the JSON is ${inputs}")
  endif()
  if(NOT plan)
    message("No pass ${pass}: every comparison decided, or nothing fits in ${left} s of ${BUDGET_S} s")
    break()
  endif()
  string(REPLACE "\n" ";" plan_args "${plan}")
  set(json_k "${JSON}.pass${pass}.json")
  message("Pass ${pass} (${left} s left of ${BUDGET_S} s): measuring again what the passes so far left undecided")
  execute_process(COMMAND "${BENCH}" ${args} ${plan_args} "--benchmark_out=${json_k}" --benchmark_out_format=json
                  RESULT_VARIABLE bench_status)
  if(EXISTS "${json_k}")
    list(APPEND inputs "${json_k}")
  endif()
endwhile()
if(PYTHON)
  execute_process(COMMAND "${PYTHON}" "${TOOLS}/parbench-report" --answer --out "${REPORT}" ${inputs}
                  RESULT_VARIABLE report_status)
  if(NOT report_status EQUAL 0)
    message(FATAL_ERROR "parbench-report exited with ${report_status}; the JSON is ${JSON}")
  endif()
  string(REPLACE ";" " " shown "${inputs}")
  message("Report: ${REPORT} (plots beside it); JSON: ${shown}")
else()
  message("No python3 found: no report written; JSON: ${JSON}")
endif()
if(NOT bench_status EQUAL 0)
  message(FATAL_ERROR "bench_parallel exited with ${bench_status}: see the errors above and in the report")
endif()

# What `cmake --build <dir> --target run_benchmarks` (the bench workflow preset) runs: bench_parallel with ARGS,
# its JSON at JSON, then the report at REPORT. ctest's bench.run_benchmarks runs this same script on a small filter.
#   cmake -DBENCH=<bench_parallel> -DARGS=<arguments, split as a shell would> -DJSON=<file> -DREPORT=<report.md>
#         -DTOOLS=<tools/> [-DPYTHON=<python3 for the report>] -P run_benchmarks.cmake
# The report is written from whatever the run measured, also when a benchmark errored; the script then fails.
separate_arguments(args UNIX_COMMAND "${ARGS}")
get_filename_component(json_dir "${JSON}" DIRECTORY)
file(MAKE_DIRECTORY "${json_dir}")
file(REMOVE "${JSON}")  # so that a JSON found below is this run's
execute_process(COMMAND "${BENCH}" ${args} "--benchmark_out=${JSON}" --benchmark_out_format=json
                RESULT_VARIABLE bench_status)
if(NOT EXISTS "${JSON}")
  message(FATAL_ERROR "bench_parallel exited with ${bench_status} and wrote no JSON")
endif()
if(PYTHON)
  execute_process(COMMAND "${PYTHON}" "${TOOLS}/parbench-report" --out "${REPORT}" "${JSON}"
                  RESULT_VARIABLE report_status)
  if(NOT report_status EQUAL 0)
    message(FATAL_ERROR "parbench-report exited with ${report_status}; the JSON is ${JSON}")
  endif()
  message("Report: ${REPORT} (plots beside it); JSON: ${JSON}")
else()
  message("No python3 found: no report written; JSON: ${JSON}")
endif()
if(NOT bench_status EQUAL 0)
  message(FATAL_ERROR "bench_parallel exited with ${bench_status}: see the errors above and in the report")
endif()

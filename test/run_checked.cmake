# For the test scripts run with cmake -P (bench_smoke.cmake, mpi/mpi_bench.cmake), which set OUT.
# run_checked(<expect_zero> <command>...): removes ${OUT}, runs the command and prints its exit status and output;
# fails the script unless it exited 0 (expect_zero TRUE) or non-zero (FALSE). Sets `stdout` and `stderr`.
function(run_checked expect_zero)
  file(REMOVE "${OUT}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "exit ${rc}\nstdout:\n${out}\nstderr:\n${err}")
  list(GET ARGN 0 program)
  get_filename_component(program "${program}" NAME)
  if(expect_zero AND NOT rc EQUAL 0)
    message(FATAL_ERROR "${program} exited ${rc}, expected 0")
  elseif(NOT expect_zero AND rc EQUAL 0)
    message(FATAL_ERROR "${program} exited 0, expected a failure")
  endif()
  set(stdout "${out}" PARENT_SCOPE)
  set(stderr "${err}" PARENT_SCOPE)
endfunction()

# bench_parallel under mpirun: one CASE. -DMPIRUN=<mpirun and flags, ending in the -np flag> -DBENCH=<program>
cmake_policy(SET CMP0057 NEW)  # if(... IN_LIST ...)
# -DPEER=<mpi_ping_pong_peer> -DCASE=np2|np4|bad_flag|without_mpirun -DOUT=<json path>

include("${CMAKE_CURRENT_LIST_DIR}/../run_checked.cmake")

# Reads the JSON; fails on any errored entry; sets `names` (a list) and `json`.
function(read_names)
  file(READ "${OUT}" text)
  string(JSON count LENGTH "${text}" benchmarks)
  set(all "")
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON name GET "${text}" benchmarks ${i} name)
    string(JSON err ERROR_VARIABLE none GET "${text}" benchmarks ${i} error_occurred)
    if(err)
      string(JSON msg GET "${text}" benchmarks ${i} error_message)
      message(FATAL_ERROR "${name} errored: ${msg}")
    endif()
    list(APPEND all "${name}")
  endforeach()
  set(names "${all}" PARENT_SCOPE)
  set(json "${text}" PARENT_SCOPE)
endfunction()

function(expect_names)
  foreach(n IN LISTS ARGN)
    if(NOT n IN_LIST names)
      message(FATAL_ERROR "missing ${n}; ran: ${names}")
    endif()
  endforeach()
endfunction()

# Sets `has` to whether the entry NAME has the counter KEY.
function(has_counter name key)
  list(FIND names "${name}" i)
  if(i LESS 0)
    message(FATAL_ERROR "missing ${name}; ran: ${names}")
  endif()
  string(JSON value ERROR_VARIABLE absent GET "${json}" benchmarks ${i} ${key})
  if(absent)
    set(has FALSE PARENT_SCOPE)
  else()
    set(has TRUE PARENT_SCOPE)
  endif()
endfunction()

function(expect_context key value)
  string(JSON got GET "${json}" context ${key})
  if(NOT got MATCHES "${value}")
    message(FATAL_ERROR "context ${key} is '${got}', expected to match '${value}'")
  endif()
endfunction()

set(json_out --benchmark_out=${OUT} --benchmark_out_format=json --benchmark_min_time=0.01 --parbench_profile=quick
             --parbench_workers=1,2,4)

if(CASE STREQUAL "np2")
  run_checked(TRUE ${MPIRUN} 2 ${BENCH} ${json_out}
      "--benchmark_filter=^(count|locked_counter[.](coarse|atomic)|sleep_tasks)/(sequential|mpi)/workers:[124]/n:(1|1024)/|^overhead/mpi/")
  read_names()
  expect_names(count/mpi/workers:1/n:1024/real_time count/mpi/workers:2/n:1024/real_time
               locked_counter.coarse/mpi/workers:2/n:1024/real_time locked_counter.atomic/mpi/workers:2/n:1024/real_time
               sleep_tasks/mpi/workers:2/n:1/real_time
               overhead/mpi/ping_pong/bytes:8/manual_time overhead/mpi/ping_pong/bytes:1048576/manual_time
               overhead/mpi/barrier/workers:2/manual_time overhead/mpi/allreduce/workers:2/manual_time
               overhead/mpi/dispatch/workers:2/real_time overhead/mpi/window/workers:1/real_time
               overhead/mpi/window/workers:2/real_time)
  if(names MATCHES "mpi/workers:4")
    message(FATAL_ERROR "workers:4 registered with 2 ranks: ${names}")
  endif()
  if(NOT stderr MATCHES "mpi: workers:4 and above not registered: this MPI job has 2 ranks")
    message(FATAL_ERROR "no note that workers:4 is not registered")
  endif()
  # The other rank is not in rank 0's process tree: no CPU counters for mpi, which would read half of W CPUs
  # idle and make the estimator take every repetition for one whose CPUs another program had.
  has_counter(count/sequential/workers:1/n:1024/real_time utilisation)
  if(NOT has)
    message(FATAL_ERROR "sequential has no utilisation counter")
  endif()
  foreach(key utilisation tree_cpu_s)
    has_counter(count/mpi/workers:2/n:1024/real_time ${key})
    if(has)
      message(FATAL_ERROR "count/mpi/workers:2 has a ${key} counter: rank 1's CPU is not in rank 0's tree")
    endif()
  endforeach()
  expect_context(mpi_ranks "^2$")
  expect_context(mpi_library "MPI")
  expect_context(mpi_transport "host")
  # The peer program runs too.
  run_checked(TRUE ${MPIRUN} 2 ${PEER} 8 1000)
  if(NOT stdout MATCHES "8 bytes: [0-9.]+ us per round trip")
    message(FATAL_ERROR "the ping-pong peer printed no time")
  endif()
elseif(CASE STREQUAL "np4")
  run_checked(TRUE ${MPIRUN} 4 ${BENCH} ${json_out}
      "--benchmark_filter=^(count|locked_counter[.]fine)/mpi/workers:[124]/n:1024/|^overhead/mpi/(barrier|allreduce|dispatch|window)/")
  read_names()
  expect_names(count/mpi/workers:4/n:1024/real_time locked_counter.fine/mpi/workers:4/n:1024/real_time
               overhead/mpi/barrier/workers:4/manual_time overhead/mpi/dispatch/workers:4/real_time
               overhead/mpi/window/workers:4/real_time)
  expect_context(mpi_ranks "^4$")
elseif(CASE STREQUAL "wrong_total")
  run_checked(FALSE ${MPIRUN} 2 ${BENCH} ${json_out} --parbench_test_wrong_total=count
      "--benchmark_filter=^count/mpi/workers:2/n:1024/")
  if(NOT stdout MATCHES "wrong total")
    message(FATAL_ERROR "no wrong-total error")
  endif()
elseif(CASE STREQUAL "bad_flag")
  run_checked(FALSE ${MPIRUN} 2 ${BENCH} --parbench_nope)
  string(REGEX MATCHALL "unknown flag '--parbench_nope'" said "${stderr}")
  list(LENGTH said times)
  if(NOT times EQUAL 1)
    message(FATAL_ERROR "the bad flag's message appeared ${times} times, expected once")
  endif()
elseif(CASE STREQUAL "bad_deadline")
  run_checked(FALSE ${MPIRUN} 2 ${BENCH} --parbench_mpi_deadline=-1)
  if(NOT stderr MATCHES "--parbench_mpi_deadline: '-1' is not a number of seconds >= 0")
    message(FATAL_ERROR "no one-line refusal of a negative deadline")
  endif()
elseif(CASE STREQUAL "without_mpirun")
  run_checked(TRUE ${BENCH} ${json_out} "--benchmark_filter=^count/(sequential|mpi)/workers:1/n:1024/|^overhead/mpi/")
  read_names()
  if(NOT names STREQUAL "count/sequential/workers:1/n:1024/real_time")
    message(FATAL_ERROR "expected sequential alone, ran: ${names}")
  endif()
  if(NOT stderr MATCHES "bench_parallel: mpi: not registered: no MPI job")
    message(FATAL_ERROR "no one-line reason why mpi did not run")
  endif()
else()
  message(FATAL_ERROR "unknown CASE ${CASE}")
endif()

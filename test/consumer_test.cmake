# Installs this build of parbench into a scratch prefix, then configures, builds and runs test/consumer
# against it through find_package(parbench).
set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")

function(step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
  set(step_out "${out}" PARENT_SCOPE)
endfunction()

step(${CMAKE_COMMAND} --install "${PARBENCH_BUILD_DIR}" --prefix "${prefix}")
step(${CMAKE_COMMAND} -S "${CONSUMER_SRC}" -B "${build}" -G "${GENERATOR}"
     -DCMAKE_CXX_COMPILER=${CXX} -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_FIND_PACKAGE_NO_PACKAGE_REGISTRY=ON)
step(${CMAKE_COMMAND} --build "${build}")
step("${build}/consumer")
# The installed, generated parbench/version.hpp carries project(VERSION).
if(NOT step_out MATCHES "^parbench ${VERSION}:")
  message(FATAL_ERROR "the installed parbench::version is not ${VERSION}: ${step_out}")
endif()
step("${build}/consumer_peers")

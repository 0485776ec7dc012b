# parbench_warnings: strict warnings for parbench's own tests and programs. It is an INTERFACE target linked
# only by our targets, never by parbench::parbench, so consumers keep their own warning flags.
add_library(parbench_warnings INTERFACE)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(parbench_warnings INTERFACE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
    -Wnon-virtual-dtor -Woverloaded-virtual -Wnull-dereference -Wdouble-promotion -Wformat=2
    -Wimplicit-fallthrough
    $<$<BOOL:${PARBENCH_WERROR}>:-Werror>)
endif()

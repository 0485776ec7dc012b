# Install the headers and an exported parbench::parbench target, so that another project can
# find_package(parbench) (test/consumer checks exactly that).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(TARGETS parbench EXPORT parbenchTargets)
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/parbench" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(FILES "${PROJECT_BINARY_DIR}/include/parbench/version.hpp" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}/parbench")
install(EXPORT parbenchTargets
  NAMESPACE parbench::
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/parbench")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/parbenchConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/parbenchConfig.cmake"
  INSTALL_DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/parbench")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/parbenchConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion
  ARCH_INDEPENDENT)
install(FILES
  "${PROJECT_BINARY_DIR}/parbenchConfig.cmake"
  "${PROJECT_BINARY_DIR}/parbenchConfigVersion.cmake"
  DESTINATION "${CMAKE_INSTALL_LIBDIR}/cmake/parbench")

# Finds sluice's dependencies. Used by the build and by the installed
# sluiceConfig.cmake, so a user's find_package(sluice) finds CAF the same way
# (Debian ships no CMake package for CAF 0.17).
include(CMakeFindDependencyMacro)
find_dependency(Threads)
if(NOT TARGET CAF::core)
  find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
  find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
  find_library(CAF_IO_LIBRARY caf_io REQUIRED)
  add_library(CAF::core UNKNOWN IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io UNKNOWN IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::core)
  # TLS between cluster nodes (sluice.cluster.tls.*).
  find_library(CAF_OPENSSL_LIBRARY caf_openssl REQUIRED)
  add_library(CAF::openssl UNKNOWN IMPORTED)
  set_target_properties(CAF::openssl PROPERTIES
    IMPORTED_LOCATION "${CAF_OPENSSL_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::io)
endif()
# The cluster's secret handshake (HMAC-SHA256) uses libcrypto.
find_dependency(OpenSSL)
find_dependency(Protobuf)
find_dependency(SQLite3)
# Receiver errors, restarts and give-ups are logged through spdlog (Debian's
# compiled libspdlog, with its external fmt).
find_dependency(spdlog)

# SLUICE_SANITIZE: sanitizers to build every sluice target with (libraries,
# tests, samples, benchmarks), e.g. "address,undefined" (make test-asan) or
# "thread" (make test-tsan). Empty: none.
#
# Applied with add_compile_options/add_link_options, so include this file before
# the add_subdirectory calls. The crash and recovery tests run samples as child
# processes: they are built here too, so the whole process tree is checked.
# UBSan findings stay recoverable at compile time so that findings in headers
# we do not own can be suppressed at run time (cmake/ubsan.supp: CAF 0.17's
# init_fun_factory binds *nullptr to a std::tuple<>& on every spawn without
# arguments); make test-asan runs with UBSAN_OPTIONS=halt_on_error=1, so any
# other finding still stops the process and fails its test.
set(SLUICE_SANITIZE "" CACHE STRING
    "Comma-separated sanitizers for all targets: address, undefined, leak, thread")

if(SLUICE_SANITIZE)
  string(REPLACE ";" "," _sluice_san "${SLUICE_SANITIZE}")
  string(REPLACE "," ";" _sluice_san_list "${_sluice_san}")
  foreach(_s IN LISTS _sluice_san_list)
    if(NOT _s MATCHES "^(address|undefined|leak|thread)$")
      message(FATAL_ERROR "SLUICE_SANITIZE: unknown sanitizer \"${_s}\" in "
        "\"${SLUICE_SANITIZE}\"; expected a comma-separated list of "
        "address, undefined, leak, thread")
    endif()
  endforeach()
  if("thread" IN_LIST _sluice_san_list AND
     ("address" IN_LIST _sluice_san_list OR "leak" IN_LIST _sluice_san_list))
    message(FATAL_ERROR "SLUICE_SANITIZE=\"${SLUICE_SANITIZE}\": thread cannot be "
      "combined with address or leak (the compilers reject it); use two builds")
  endif()

  set(SLUICE_SANITIZE_FLAGS -fsanitize=${_sluice_san} -fno-omit-frame-pointer)
  add_compile_options(${SLUICE_SANITIZE_FLAGS})
  add_link_options(${SLUICE_SANITIZE_FLAGS})
  message(STATUS "sluice: sanitizers ${_sluice_san}")
endif()

# Whoever links an instrumented sluice (the find_package consumer of
# tests/install) must link the sanitizer runtimes too: the libraries are
# static by default (make test-asan builds them shared, BUILD_SHARED_LIBS).
# Called after the targets exist; exported with them.
function(sluice_sanitize_interface target)
  if(SLUICE_SANITIZE_FLAGS)
    target_link_options(${target} INTERFACE ${SLUICE_SANITIZE_FLAGS})
  endif()
endfunction()

# ctest driver of one compile-must-fail case (cmake -P):
#   -DCASE=<name> -DSOURCE_DIR=<tests/compile_fail> -DWORK_DIR=<dir> -DFLAGS_FILE=<file>
#   -DCXX=<compiler> -DGENERATOR=<generator> [-DEXPECT_SUCCESS=ON]
# Configures and builds <SOURCE_DIR>/CMakeLists.txt for CASE in WORK_DIR.
# A failing case passes only when its build fails, the output holds the text
# of the case's "// expect: <text>" line, and the compiler reports exactly one
# error (the static_assert, not pages from the templates behind it). With
# EXPECT_SUCCESS the case must build.
cmake_minimum_required(VERSION 3.25)

foreach(var CASE SOURCE_DIR WORK_DIR FLAGS_FILE CXX GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_case.cmake: -D${var}=... is missing")
  endif()
endforeach()

set(source ${SOURCE_DIR}/${CASE}.cpp)
if(NOT EXISTS ${source})
  message(FATAL_ERROR "compile_fail/${CASE}: no case file ${source}")
endif()

file(REMOVE_RECURSE ${WORK_DIR})
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR} -G ${GENERATOR}
          -DCMAKE_CXX_COMPILER=${CXX} -DCASE=${CASE} -DFLAGS_FILE=${FLAGS_FILE}
  RESULT_VARIABLE configure_rc OUTPUT_VARIABLE configure_out ERROR_VARIABLE configure_out)
if(NOT configure_rc EQUAL 0)
  message(FATAL_ERROR "compile_fail/${CASE}: configuring its project failed (${configure_rc}):\n"
                      "${configure_out}")
endif()

execute_process(COMMAND ${CMAKE_COMMAND} --build ${WORK_DIR}
                RESULT_VARIABLE build_rc OUTPUT_VARIABLE out ERROR_VARIABLE out)

if(EXPECT_SUCCESS)
  if(NOT build_rc EQUAL 0)
    message(FATAL_ERROR "compile_fail/${CASE}: expected to compile, but the build failed "
                        "(${build_rc}):\n${out}")
  endif()
  message(STATUS "compile_fail/${CASE}: compiles, as expected")
  return()
endif()

file(STRINGS ${source} expect_lines REGEX "^// expect: ")
list(LENGTH expect_lines n)
if(NOT n EQUAL 1)
  message(FATAL_ERROR "compile_fail/${CASE}: ${source} needs exactly one \"// expect: <text>\" "
                      "line, has ${n}")
endif()
string(REGEX REPLACE "^// expect: " "" expected "${expect_lines}")

if(build_rc EQUAL 0)
  message(FATAL_ERROR "compile_fail/${CASE}: expected the build to fail with \"${expected}\", "
                      "but it compiled:\n${out}")
endif()
string(FIND "${out}" "${expected}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "compile_fail/${CASE}: the build failed, but without \"${expected}\":\n"
                      "${out}")
endif()
# Counts the compiler's "file:line:col: error: " lines (make's own lines say
# "Error 1"); matching only that literal keeps ';' and brackets in the
# output from splitting the list.
string(REGEX MATCHALL ": error: " errors "${out}")
list(LENGTH errors n_errors)
if(NOT n_errors EQUAL 1)
  message(FATAL_ERROR "compile_fail/${CASE}: expected only the static_assert's error, got "
                      "${n_errors} errors:\n${out}")
endif()
message(STATUS "compile_fail/${CASE}: fails with \"${expected}\" and no other error, as expected")

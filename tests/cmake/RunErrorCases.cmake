# module.errors: configure every case in errors/ (errors/<Case>.cmake) and check that
# it fails with stderr matching errors/<Case>-stderr.txt (a regex; whitespace in the
# output, including CMake's line wrapping, is collapsed to single spaces first).
#
#   cmake -DCLUSTER_DEPLOY_MODULE_DIR=<repo>/cmake -DWORK=<scratch dir>
#         [-DGENERATOR=<gen>] [-DCASES=<Case;...>] -P RunErrorCases.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS CLUSTER_DEPLOY_MODULE_DIR WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "RunErrorCases.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT GENERATOR)
  set(GENERATOR Ninja)
endif()

set(source "${CMAKE_CURRENT_LIST_DIR}/errors")
if(NOT CASES)
  file(GLOB case_files RELATIVE "${source}" "${source}/*.cmake")
  set(CASES "")
  foreach(file IN LISTS case_files)
    string(REGEX REPLACE "\\.cmake$" "" case "${file}")
    list(APPEND CASES "${case}")
  endforeach()
endif()

set(failures "")
foreach(case IN LISTS CASES)
  set(binary "${WORK}/${case}")
  file(REMOVE_RECURSE "${binary}")
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -S "${source}" -B "${binary}" -G "${GENERATOR}"
            "-DRUN_CASE=${case}"
            "-DCLUSTER_DEPLOY_MODULE_DIR=${CLUSTER_DEPLOY_MODULE_DIR}"
            # The helper is not needed to fail; never look for one.
            -DCLUSTER_DEPLOY_EXECUTABLE=/bin/true
            -DCLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL=/bin/true
    RESULT_VARIABLE result
    OUTPUT_VARIABLE stdout
    ERROR_VARIABLE stderr)
  file(READ "${source}/${case}-stderr.txt" expected)
  string(STRIP "${expected}" expected)
  string(REGEX REPLACE "[ \t\r\n]+" " " actual "${stderr}")
  if(result EQUAL 0)
    list(APPEND failures "${case}: configure succeeded, expected an error")
    message(STATUS "FAIL ${case}: configure succeeded")
  elseif(NOT actual MATCHES "${expected}")
    list(APPEND failures "${case}: stderr does not match")
    message(STATUS "FAIL ${case}: stderr does not match\n  expected (regex): ${expected}\n  actual: ${stderr}")
  else()
    message(STATUS "ok   ${case}")
  endif()
endforeach()

list(LENGTH CASES total)
list(LENGTH failures failed)
if(failures)
  list(JOIN failures "\n  " text)
  message(FATAL_ERROR "${failed} of ${total} error cases failed:\n  ${text}")
endif()
message(STATUS "all ${total} error cases passed")

# module.presets: the presets parse with this CMake (CI runs the same listing), and the
# real-cluster preset refuses to configure without an inventory instead of falling back
# to anything it could connect to.
#   cmake -DREPO=<repo> -DWORK=<scratch dir> -P RunPresets.cmake
cmake_minimum_required(VERSION 3.25)

execute_process(COMMAND "${CMAKE_COMMAND}" --list-presets=all
  WORKING_DIRECTORY "${REPO}" RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT result EQUAL 0)
  message(FATAL_ERROR "cmake --list-presets=all failed:\n${err}")
endif()
foreach(name IN ITEMS dev local-cluster real-cluster deploy cluster-up cluster-down unit local-deploy local-check)
  if(NOT out MATCHES "\"${name}\"")
    message(FATAL_ERROR "preset ${name} is not listed:\n${out}")
  endif()
endforeach()

file(REMOVE_RECURSE "${WORK}")
execute_process(COMMAND "${CMAKE_COMMAND}" -E env --unset=CLUSTER_DEPLOY_INVENTORY
  "${CMAKE_COMMAND}" --preset real-cluster -B "${WORK}/real-cluster"
  WORKING_DIRECTORY "${REPO}" RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(result EQUAL 0)
  message(FATAL_ERROR "the real-cluster preset configured without an inventory")
endif()
if(NOT err MATCHES "CLUSTER_DEPLOY_INVENTORY is empty: set the environment variable")
  message(FATAL_ERROR "unexpected error from the real-cluster preset:\n${err}")
endif()
message(STATUS "module.presets: presets listed; real-cluster refuses an empty inventory")

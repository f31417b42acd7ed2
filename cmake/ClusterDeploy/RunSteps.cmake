# Run commands one after the other for the ClusterDeploy fixture tests
# (cluster.setup, cluster.cleanup). Part of ClusterDeploy.cmake; not a public interface.
#
#   cmake -P RunSteps.cmake -- <marker> <command> [<arg>...] [<marker> <command> [<arg>...]]...
#
# <marker> is ::step:: (a failure stops the run and fails it) or ::optional-step::
# (a failure is reported as a warning and the run goes on). Exits non-zero on the
# first failed ::step::.

cmake_minimum_required(VERSION 3.25)

set(_steps_index 0)
set(_current "")
set(_current_optional FALSE)
set(_seen_separator FALSE)

function(_run_step optional)
  set(cmd ${ARGN})
  if(NOT cmd)
    return()
  endif()
  list(JOIN cmd " " printable)
  message(STATUS "cluster-deploy step: ${printable}")
  execute_process(COMMAND ${cmd} RESULT_VARIABLE result)
  if(NOT result EQUAL 0)
    if(optional)
      message(WARNING "optional step failed (${result}), continuing: ${printable}")
    else()
      message(FATAL_ERROR "step failed (${result}): ${printable}")
    endif()
  endif()
endfunction()

math(EXPR _last "${CMAKE_ARGC} - 1")
foreach(i RANGE 0 ${_last})
  set(arg "${CMAKE_ARGV${i}}")
  if(NOT _seen_separator)
    if(arg STREQUAL "--")
      set(_seen_separator TRUE)
    endif()
    continue()
  endif()
  if(arg STREQUAL "::step::" OR arg STREQUAL "::optional-step::")
    _run_step(${_current_optional} ${_current})
    set(_current "")
    if(arg STREQUAL "::optional-step::")
      set(_current_optional TRUE)
    else()
      set(_current_optional FALSE)
    endif()
    math(EXPR _steps_index "${_steps_index} + 1")
  else()
    list(APPEND _current "${arg}")
  endif()
endforeach()
_run_step(${_current_optional} ${_current})

if(_steps_index EQUAL 0)
  message(FATAL_ERROR "RunSteps.cmake: no steps given (usage: cmake -P RunSteps.cmake -- ::step:: <cmd> ...)")
endif()

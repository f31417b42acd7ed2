# module.consumer.find_package / module.consumer.add_subdirectory: use ClusterDeploy
# from the downstream project consumer/.
#   MODE=find_package:    configure, build and install the real project (no tests, no
#                         examples) to a temporary prefix, then configure the consumer
#                         with CMAKE_PREFIX_PATH=<prefix>: the helper must be the
#                         IMPORTED ClusterDeploy::cluster-deploy, the installed module
#                         must find the installed local-cluster and its -P script,
#                         and a find_package for major version 1 must fail.
#   MODE=add_subdirectory: configure the consumer with the repository added through
#                         add_subdirectory() (helper = the in-tree ALIAS).
#   MODE=fetchcontent:    configure the consumer with FetchContent cloning the repository's
#                         HEAD commit from its local path (no network); skipped (77) when
#                         the repository is not a git checkout.
# Each builds the consumer's service `hello`, checks its plan.xml, and checks that its cluster
# test requires the deploy fixture both with enable_testing() and with include(CTest)
# (a second configure). Nothing is deployed.
#
#   cmake -DMODE=<mode> -DREPO=<repo> -DWORK=<scratch dir> [-DGENERATOR=<gen>] -P RunConsumer.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS MODE REPO WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "RunConsumer.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT GENERATOR)
  set(GENERATOR Ninja)
endif()
# regex_escape(<out> <text>): <text> as a regex matching itself (paths may hold + or .).
function(regex_escape out text)
  string(REGEX REPLACE "([][+.*?()^$|\\])" "\\\\\\1" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

set(consumer_source "${CMAKE_CURRENT_LIST_DIR}/consumer")
set(consumer "${WORK}/consumer")
set(prefix "${WORK}/prefix")
file(REMOVE_RECURSE "${WORK}")
regex_escape(prefix_re "${prefix}")
regex_escape(consumer_re "${consumer}")
regex_escape(consumer_source_re "${consumer_source}")
regex_escape(repo_re "${REPO}")


function(step what)
  message(STATUS "${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "${what} failed (${result}):\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

function(expect_match what text regex)
  if(NOT text MATCHES "${regex}")
    message(FATAL_ERROR "${what}: no match for\n  ${regex}\nin:\n${text}")
  endif()
  message(STATUS "ok   ${what}")
endfunction()

if(MODE STREQUAL "find_package")
  step("configure ClusterDeploy"
    "${CMAKE_COMMAND}" -S "${REPO}" -B "${WORK}/project" -G "${GENERATOR}"
    -DBUILD_TESTING=OFF -DCLUSTER_DEPLOY_BUILD_EXAMPLES=OFF
    "-DCMAKE_INSTALL_PREFIX=${prefix}")
  step("build ClusterDeploy" "${CMAKE_COMMAND}" --build "${WORK}/project")
  step("install ClusterDeploy" "${CMAKE_COMMAND}" --install "${WORK}/project")
  set(installed
    bin/cluster-deploy
    lib/cmake/ClusterDeploy/ClusterDeployConfig.cmake
    lib/cmake/ClusterDeploy/ClusterDeployConfigVersion.cmake
    lib/cmake/ClusterDeploy/ClusterDeployTargets.cmake
    lib/cmake/ClusterDeploy/ClusterDeploy.cmake
    lib/cmake/ClusterDeploy/ClusterDeploy/RunSteps.cmake)
  if(EXISTS "${REPO}/tools/local-cluster/local-cluster")
    list(APPEND installed bin/local-cluster libexec/cluster-deploy/local-cluster/node.sh)
  endif()
  foreach(file IN LISTS installed)
    if(NOT EXISTS "${prefix}/${file}")
      message(FATAL_ERROR "not installed: ${prefix}/${file}")
    endif()
  endforeach()
  message(STATUS "ok   installed files")
  step("the installed local-cluster finds its parts" "${prefix}/bin/local-cluster" --help)

  set(consumer_args "-DCMAKE_PREFIX_PATH=${prefix}")
  step("configure the consumer (find_package)"
    "${CMAKE_COMMAND}" -S "${consumer_source}" -B "${consumer}" -G "${GENERATOR}" ${consumer_args})
  expect_match("helper is imported" "${step_output}"
    "consumer: ClusterDeploy::cluster-deploy IMPORTED=TRUE")

  execute_process(
    COMMAND "${CMAKE_COMMAND}" -S "${consumer_source}" -B "${WORK}/consumer-v1" -G "${GENERATOR}"
            "-DCMAKE_PREFIX_PATH=${prefix}" -DCONSUMER_CLUSTER_DEPLOY_VERSION=1.0
    RESULT_VARIABLE result OUTPUT_QUIET ERROR_VARIABLE err)
  if(result EQUAL 0)
    message(FATAL_ERROR "find_package(ClusterDeploy 1.0) accepted a 0.x install (SameMajorVersion)")
  endif()
  expect_match("find_package(ClusterDeploy 1.0) is refused" "${err}"
    "compatible with requested version \"1.0\"")

  step("list the consumer's tests"
    "${CMAKE_CTEST_COMMAND}" --test-dir "${consumer}" --show-only=json-v1)
  set(tests_json "${step_output}")
  expect_match("cluster.setup uses the installed local-cluster" "${tests_json}"
    "\"${prefix_re}/bin/local-cluster\",[ \n]*\"up\"")
  expect_match("cluster.setup uses the installed helper" "${tests_json}"
    "\"${prefix_re}/bin/cluster-deploy\",[ \n]*\"deploy\"")
  expect_match("cluster.setup uses the installed RunSteps.cmake" "${tests_json}"
    "\"${prefix_re}/lib/cmake/ClusterDeploy/ClusterDeploy/RunSteps\\.cmake\"")
  expect_match("hello.greets gets CLUSTER_DEPLOY" "${tests_json}"
    "\"CLUSTER_DEPLOY=${prefix_re}/bin/cluster-deploy\"")
  expect_match("hello.greets attaches its evidence for CDash" "${tests_json}"
    "\"ATTACHED_FILES_ON_FAIL\",[ \n]*\"value\" : [ \n]*\\[[ \n]*\"[^\"]*/cluster-deploy/evidence/hello\\.greets/latest/summary\\.txt\"")
elseif(MODE STREQUAL "add_subdirectory")
  set(consumer_args "-DCLUSTER_DEPLOY_SOURCE_DIR=${REPO}" -DBUILD_TESTING=OFF)
  step("configure the consumer (add_subdirectory)"
    "${CMAKE_COMMAND}" -S "${consumer_source}" -B "${consumer}" -G "${GENERATOR}" ${consumer_args})
  expect_match("helper is the in-tree target" "${step_output}"
    "consumer: ClusterDeploy::cluster-deploy IMPORTED=FALSE")
  file(STRINGS "${consumer}/CMakeCache.txt" tool REGEX "^CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL:")
  expect_match("local cluster tool is the in-tree script" "${tool}"
    "=${repo_re}/tools/local-cluster/local-cluster$")
elseif(MODE STREQUAL "fetchcontent")
  execute_process(COMMAND git -C "${REPO}" rev-parse HEAD
    RESULT_VARIABLE result OUTPUT_VARIABLE commit ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT result EQUAL 0)
    message(STATUS "module.consumer.fetchcontent: ${REPO} is not a git checkout: skipped")
    cmake_language(EXIT 77)
  endif()
  set(consumer_args "-DCLUSTER_DEPLOY_GIT_REPOSITORY=${REPO}" "-DCLUSTER_DEPLOY_GIT_TAG=${commit}" -DBUILD_TESTING=OFF)
  step("configure the consumer (FetchContent of ${commit})"
    "${CMAKE_COMMAND}" -S "${consumer_source}" -B "${consumer}" -G "${GENERATOR}" ${consumer_args})
  expect_match("helper is the fetched in-tree target" "${step_output}"
    "consumer: ClusterDeploy::cluster-deploy IMPORTED=FALSE")
  file(STRINGS "${consumer}/CMakeCache.txt" tool REGEX "^CLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL:")
  expect_match("local cluster tool is the fetched script" "${tool}"
    "=${consumer_re}/_deps/clusterdeploy-src/tools/local-cluster/local-cluster$")
else()
  message(FATAL_ERROR "RunConsumer.cmake: MODE must be find_package, add_subdirectory or fetchcontent, not '${MODE}'")
endif()

# expect_fixtures(<what> <build dir>): the consumer's cluster test requires the deploy
# fixture, and the fixture's setup and cleanup tests exist, however testing was turned on.
function(expect_fixtures what dir)
  step("list the tests (${what})" "${CMAKE_CTEST_COMMAND}" --test-dir "${dir}" --show-only=json-v1)
  string(JSON count LENGTH "${step_output}" tests)
  set(found "")
  math(EXPR last "${count} - 1")
  foreach(i RANGE ${last})
    string(JSON name GET "${step_output}" tests ${i} name)
    string(JSON properties GET "${step_output}" tests ${i} properties)
    string(JSON n LENGTH "${properties}")
    math(EXPR last_property "${n} - 1")
    foreach(j RANGE ${last_property})
      string(JSON key GET "${properties}" ${j} name)
      if(key MATCHES "^FIXTURES_(REQUIRED|SETUP|CLEANUP)$")
        string(JSON value GET "${properties}" ${j} value 0)
        list(APPEND found "${name}:${key}=${value}")
      endif()
    endforeach()
  endforeach()
  foreach(expected IN ITEMS "hello.greets:FIXTURES_REQUIRED=ClusterDeployed"
                            "cluster.setup:FIXTURES_SETUP=ClusterDeployed"
                            "cluster.cleanup:FIXTURES_CLEANUP=ClusterDeployed")
    if(NOT expected IN_LIST found)
      message(FATAL_ERROR "${what}: no ${expected} among the tests' fixtures: ${found}")
    endif()
  endforeach()
  message(STATUS "ok   ${what}: the cluster test requires the deploy fixture")
endfunction()

expect_fixtures("enable_testing()" "${consumer}")
# include(CTest) turns testing on only where BUILD_TESTING is true: let it default (ON).
set(ctest_args ${consumer_args})
list(REMOVE_ITEM ctest_args -DBUILD_TESTING=OFF)
step("configure the consumer with include(CTest)"
  "${CMAKE_COMMAND}" -S "${consumer_source}" -B "${WORK}/consumer-ctest" -G "${GENERATOR}"
  ${ctest_args} -DCONSUMER_TESTING=ctest)
expect_fixtures("include(CTest)" "${WORK}/consumer-ctest")

step("build hello" "${CMAKE_COMMAND}" --build "${consumer}" --target hello)
# Ninja's help lists targets others depend on only as CMakeFiles/<target>.
step("list the consumer's targets" "${CMAKE_COMMAND}" --build "${consumer}" --target help)
foreach(target IN ITEMS deploy cluster-plan cluster-up cluster-down cluster-clean local-cluster-up)
  expect_match("target ${target} exists" "${step_output}" "(^|\n|/CMakeFiles/)(\\.\\.\\. )?${target}(:|\n|$)")
endforeach()

file(READ "${consumer}/cluster-deploy/plan.xml" plan)
expect_match("plan.xml: cluster" "${plan}" "<plan version=\"1\" cluster=\"hello\" inventory=\"${consumer_source_re}/inventory\"")
expect_match("plan.xml: ssh" "${plan}" "<ssh config=\"${consumer_re}/local-cluster/ssh_config\"")
expect_match("plan.xml: service" "${plan}"
  "<service name=\"hello\" group=\"hellos\" bootstrap=\"false\">\n    <program>${consumer_re}/hello</program>\n    <arg>--greeting</arg>\n    <arg>hi</arg>\n    <health kind=\"tcp\" port=\"7000\"/>\n  </service>")
message(STATUS "module.consumer.${MODE}: all checks passed")

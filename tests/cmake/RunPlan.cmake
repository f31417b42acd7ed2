# module.plan: configure tests/cmake/plan (the "good" project) with a fake helper and
# a fake local-cluster (fake/fake-tool.sh, which logs its argv), then check
#   - plan.xml, byte for byte (plan/plan-plain.xml),
#   - what every cluster target runs, and that `deploy` builds the TARGET service,
#   - the fixture: ctest -L cluster runs setup, the test, cleanup, with the right
#     environment, stops on a failed setup step, and a LOCAL_CLUSTER cleanup tolerates a
#     failing `clean` but not a failing local cluster `down`,
#   - the cache overrides CLUSTER_DEPLOY_SSH_CONFIG / CLUSTER_DEPLOY_HOST_KEY_POLICY.
#
#   cmake -DCLUSTER_DEPLOY_MODULE_DIR=<repo>/cmake -DWORK=<scratch dir> [-DGENERATOR=<gen>]
#         -P RunPlan.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS CLUSTER_DEPLOY_MODULE_DIR WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "RunPlan.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT GENERATOR)
  set(GENERATOR Ninja)
endif()
set(source "${CMAKE_CURRENT_LIST_DIR}/plan")
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/bin")

foreach(name IN ITEMS cluster-deploy local-cluster)
  file(COPY_FILE "${CMAKE_CURRENT_LIST_DIR}/fake/fake-tool.sh" "${WORK}/bin/${name}")
  file(CHMOD "${WORK}/bin/${name}" PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE)
endforeach()
set(log "${WORK}/fake.log")
set(ENV{CLUSTER_DEPLOY_FAKE_LOG} "${log}")
set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "")

# regex_escape(<out> <text>): <text> as a regex matching itself (paths may hold + or .).
function(regex_escape out text)
  string(REGEX REPLACE "([][+.*?()^$|\\])" "\\\\\\1" text "${text}")
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

set(failures "")
macro(fail what)
  list(APPEND failures "${what}")
  message(STATUS "FAIL ${what}")
endmacro()

# run(<expect: 0|nonzero> <what> <command>...): run a command with a fresh fake log.
function(run expect what)
  file(REMOVE "${log}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if((expect STREQUAL "0" AND NOT result EQUAL 0) OR (expect STREQUAL "nonzero" AND result EQUAL 0))
    set(failures ${failures} "${what}: exit ${result}, expected ${expect}" PARENT_SCOPE)
    message(STATUS "FAIL ${what}: exit ${result}, expected ${expect}\n${out}\n${err}")
  else()
    message(STATUS "ok   ${what}")
  endif()
endfunction()

# expect_log(<what> <line>...): the fake log holds exactly these lines.
function(expect_log what)
  set(actual "")
  if(EXISTS "${log}")
    file(STRINGS "${log}" actual)
  endif()
  if(NOT "${actual}" STREQUAL "${ARGN}")
    string(REPLACE ";" "\n    " a "${actual}")
    string(REPLACE ";" "\n    " e "${ARGN}")
    set(failures ${failures} "${what}: wrong helper calls" PARENT_SCOPE)
    message(STATUS "FAIL ${what}: helper calls\n  expected:\n    ${e}\n  actual:\n    ${a}")
  else()
    message(STATUS "ok   ${what}: helper calls")
  endif()
endfunction()

function(configure binary)
  execute_process(
    COMMAND "${CMAKE_COMMAND}" -S "${source}" -B "${binary}" -G "${GENERATOR}"
            "-DCLUSTER_DEPLOY_MODULE_DIR=${CLUSTER_DEPLOY_MODULE_DIR}"
            "-DCLUSTER_DEPLOY_EXECUTABLE=${WORK}/bin/cluster-deploy"
            "-DCLUSTER_DEPLOY_LOCAL_CLUSTER_TOOL=${WORK}/bin/local-cluster"
            ${ARGN}
    RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    message(FATAL_ERROR "configuring ${source} failed:\n${out}\n${err}")
  endif()
endfunction()

# --- plain inventory ----------------------------------------------------------
set(b "${WORK}/plain")
set(plan "${b}/cluster-deploy/plan.xml")
configure("${b}")

file(READ "${source}/plan-plain.xml" expected)
string(REPLACE "%SOURCE_DIR%" "${source}" expected "${expected}")
string(REPLACE "%BINARY_DIR%" "${b}" expected "${expected}")
file(READ "${plan}" actual)
if(NOT actual STREQUAL expected)
  fail("plan.xml differs from plan/plan-plain.xml")
  message(STATUS "expected:\n${expected}\nactual:\n${actual}")
else()
  message(STATUS "ok   plan.xml")
endif()

run(0 "build deploy" "${CMAKE_COMMAND}" --build "${b}" --target deploy)
expect_log("deploy" "cluster-deploy deploy --plan ${plan}")
if(NOT EXISTS "${b}/app")
  fail("building deploy did not build the TARGET service 'app'")
endif()

set(targets cluster-plan cluster-up cluster-down cluster-status cluster-logs cluster-clean cluster-rollback)
set(calls "deploy --plan ${plan} --dry-run" "up --plan ${plan}" "down --plan ${plan}"
          "status --plan ${plan}" "logs --plan ${plan} --lines 100" "clean --plan ${plan}"
          "rollback --plan ${plan}")
foreach(target call IN ZIP_LISTS targets calls)
  run(0 "build ${target}" "${CMAKE_COMMAND}" --build "${b}" --target ${target})
  expect_log("${target}" "cluster-deploy ${call}")
endforeach()

run(0 "build all does not deploy" "${CMAKE_COMMAND}" --build "${b}")
expect_log("build all does not deploy")

run(0 "ctest -L cluster" "${CMAKE_CTEST_COMMAND}" --test-dir "${b}" -L cluster --output-on-failure)
expect_log("ctest -L cluster"
  "cluster-deploy heal --plan ${plan}"
  "cluster-deploy deploy --plan ${plan}"
  "cluster-deploy run-test --plan ${plan} --name plan.env -- ${CMAKE_COMMAND} -DEXPECT_BINARY_DIR=${b} -P ${source}/check-env.cmake"
  "test plan.env ssh_config="
  "cluster-deploy fault --plan ${plan} partition one --service store --for 5"
  "cluster-deploy collect --plan ${plan} --pending"
  "cluster-deploy heal --plan ${plan}")   # TEARDOWN none (a real inventory's default): nothing stops

# A failing heal (nothing reachable yet, say) does not stop the fixture.
set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "cluster-deploy:heal")
run(0 "ctest -L cluster, heal fails" "${CMAKE_CTEST_COMMAND}" --test-dir "${b}" -L cluster --output-on-failure)
set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "")

set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "cluster-deploy:deploy")
run(nonzero "ctest -L cluster, deploy fails" "${CMAKE_CTEST_COMMAND}" --test-dir "${b}" -L cluster)
expect_log("ctest -L cluster, deploy fails"
  "cluster-deploy heal --plan ${plan}"
  "cluster-deploy deploy --plan ${plan}"
  "cluster-deploy collect --plan ${plan} --pending"
  "cluster-deploy heal --plan ${plan}")
set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "")

# --- TEARDOWN down and clean on a real inventory -------------------------------
foreach(teardown IN ITEMS down clean)
  set(b "${WORK}/teardown-${teardown}")
  set(plan "${b}/cluster-deploy/plan.xml")
  configure("${b}" -DPLAN_TEARDOWN=${teardown})
  run(0 "TEARDOWN ${teardown}: ctest -L cluster" "${CMAKE_CTEST_COMMAND}" --test-dir "${b}" -L cluster --output-on-failure)
  expect_log("TEARDOWN ${teardown}: ctest -L cluster"
    "cluster-deploy heal --plan ${plan}"
    "cluster-deploy deploy --plan ${plan}"
    "cluster-deploy run-test --plan ${plan} --name plan.env -- ${CMAKE_COMMAND} -DEXPECT_BINARY_DIR=${b} -P ${source}/check-env.cmake"
    "test plan.env ssh_config="
    "cluster-deploy fault --plan ${plan} partition one --service store --for 5"
    "cluster-deploy collect --plan ${plan} --pending"
    "cluster-deploy heal --plan ${plan}"
    "cluster-deploy ${teardown} --plan ${plan}")
  set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "cluster-deploy:${teardown}")
  run(nonzero "TEARDOWN ${teardown}: ctest -L cluster, ${teardown} fails" "${CMAKE_CTEST_COMMAND}" --test-dir "${b}" -L cluster)
  set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "")
endforeach()

# --- LOCAL_CLUSTER inventory, with the cache overrides ------------------------------
set(b "${WORK}/local-cluster")
set(plan "${b}/cluster-deploy/plan.xml")
set(local_cluster_args "--inventory ${source}/inventory --out ${b}/local-cluster --helper ${WORK}/bin/cluster-deploy")
configure("${b}" -DPLAN_LOCAL_CLUSTER=ON -DCLUSTER_DEPLOY_HOST_KEY_POLICY=strict)
regex_escape(b_re "${b}")
file(READ "${plan}" actual)
if(NOT actual MATCHES "<ssh config=\"${b_re}/local-cluster/ssh_config\" known-hosts=\"\" host-key-policy=\"strict\" parallel=\"8\" fan-out=\"off\"/>")
  fail("local cluster plan.xml: <ssh> element (FAN_OUT not given: off, a LOCAL_CLUSTER inventory's default)")
  message(STATUS "actual:\n${actual}")
endif()
if(NOT actual MATCHES "<plan [^>]* faults=\"corrupt\">")
  fail("local cluster plan.xml: a LOCAL_CLUSTER inventory allows faults, corrupt ones too")
endif()

run(0 "local cluster: build deploy" "${CMAKE_COMMAND}" --build "${b}" --target deploy)
expect_log("local cluster: deploy"
  "local-cluster up ${local_cluster_args}"
  "cluster-deploy deploy --plan ${plan}")
run(0 "local cluster: build cluster-up" "${CMAKE_COMMAND}" --build "${b}" --target cluster-up)
expect_log("local cluster: cluster-up"
  "local-cluster up ${local_cluster_args}"
  "cluster-deploy up --plan ${plan}")
run(0 "local cluster: build local-cluster-down" "${CMAKE_COMMAND}" --build "${b}" --target local-cluster-down)
expect_log("local cluster: local-cluster-down" "local-cluster down ${local_cluster_args}")
run(0 "local cluster: build local-cluster-status" "${CMAKE_COMMAND}" --build "${b}" --target local-cluster-status)
expect_log("local cluster: local-cluster-status" "local-cluster status ${local_cluster_args}")

set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "cluster-deploy:clean")
run(0 "local cluster: ctest -L cluster, clean fails (local cluster down)" "${CMAKE_CTEST_COMMAND}" --test-dir "${b}" -L cluster --output-on-failure)
expect_log("local cluster: ctest -L cluster"
  "local-cluster up ${local_cluster_args}"
  "cluster-deploy heal --plan ${plan}"
  "cluster-deploy deploy --plan ${plan}"
  "cluster-deploy run-test --plan ${plan} --name plan.env -- ${CMAKE_COMMAND} -DEXPECT_BINARY_DIR=${b} -P ${source}/check-env.cmake"
  "test plan.env ssh_config=${b}/local-cluster/ssh_config"
  "cluster-deploy fault --plan ${plan} partition one --service store --for 5"
  "cluster-deploy collect --plan ${plan} --pending"
  "cluster-deploy heal --plan ${plan}"
  "cluster-deploy clean --plan ${plan}"
  "local-cluster down ${local_cluster_args}")
set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "local-cluster:up")
run(nonzero "local cluster: ctest -L cluster, local-cluster up fails" "${CMAKE_CTEST_COMMAND}" --test-dir "${b}" -L cluster)
expect_log("local cluster: local-cluster up fails"
  "local-cluster up ${local_cluster_args}"
  "cluster-deploy collect --plan ${plan} --pending"
  "cluster-deploy heal --plan ${plan}"
  "cluster-deploy clean --plan ${plan}"
  "local-cluster down ${local_cluster_args}")
set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "local-cluster:down")
run(nonzero "local cluster: ctest -L cluster, local-cluster down fails" "${CMAKE_CTEST_COMMAND}" --test-dir "${b}" -L cluster)
set(ENV{CLUSTER_DEPLOY_FAKE_FAIL} "")

# CLUSTER_DEPLOY_KEEP_CLUSTER: two ctest runs, as an IDE runs two tests; nothing is taken down.
configure("${b}" -DCLUSTER_DEPLOY_KEEP_CLUSTER=ON)
foreach(round IN ITEMS 1 2)
  run(0 "local cluster, keep (run ${round}): ctest -L cluster" "${CMAKE_CTEST_COMMAND}" --test-dir "${b}" -L cluster --output-on-failure)
  expect_log("local cluster, keep (run ${round})"
    "local-cluster up ${local_cluster_args}"
    "cluster-deploy heal --plan ${plan}"
    "cluster-deploy deploy --plan ${plan}"
    "cluster-deploy run-test --plan ${plan} --name plan.env -- ${CMAKE_COMMAND} -DEXPECT_BINARY_DIR=${b} -P ${source}/check-env.cmake"
    "test plan.env ssh_config=${b}/local-cluster/ssh_config"
    "cluster-deploy fault --plan ${plan} partition one --service store --for 5"
    "cluster-deploy collect --plan ${plan} --pending"
    "cluster-deploy heal --plan ${plan}")
endforeach()
configure("${b}" -DCLUSTER_DEPLOY_KEEP_CLUSTER=OFF)

# CLUSTER_DEPLOY_WARM_SESSIONS: the fixture's helper calls keep their sessions warm.
configure("${b}" -DCLUSTER_DEPLOY_KEEP_CLUSTER=ON -DCLUSTER_DEPLOY_WARM_SESSIONS=600)
run(0 "local cluster, warm: ctest -L cluster" "${CMAKE_CTEST_COMMAND}" --test-dir "${b}" -L cluster --output-on-failure)
expect_log("local cluster, warm"
  "local-cluster up ${local_cluster_args}"
  "cluster-deploy heal --plan ${plan} --warm 600"
  "cluster-deploy deploy --plan ${plan} --warm 600"
  "cluster-deploy run-test --plan ${plan} --name plan.env -- ${CMAKE_COMMAND} -DEXPECT_BINARY_DIR=${b} -P ${source}/check-env.cmake"
  "test plan.env ssh_config=${b}/local-cluster/ssh_config"
  "cluster-deploy fault --plan ${plan} partition one --service store --for 5"
  "cluster-deploy collect --plan ${plan} --pending --warm 600"
  "cluster-deploy heal --plan ${plan} --warm 600")
configure("${b}" -DCLUSTER_DEPLOY_KEEP_CLUSTER=OFF -DCLUSTER_DEPLOY_WARM_SESSIONS=0)

configure("${b}" -DCLUSTER_DEPLOY_SSH_CONFIG=/etc/cluster/ssh_config -DCLUSTER_DEPLOY_HOST_KEY_POLICY=)
file(READ "${plan}" actual)
if(NOT actual MATCHES "<ssh config=\"/etc/cluster/ssh_config\" known-hosts=\"\" host-key-policy=\"accept-new\"")
  fail("CLUSTER_DEPLOY_SSH_CONFIG override")
  message(STATUS "actual:\n${actual}")
endif()

if(failures)
  list(JOIN failures "\n  " text)
  message(FATAL_ERROR "module.plan failed:\n  ${text}")
endif()
message(STATUS "module.plan: all checks passed")

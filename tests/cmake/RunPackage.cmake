# module.package.deb: the Debian package. Runs cpack on this build tree (built by the
# workflow's build step), checks the .deb's metadata and files, unpacks it with
# `dpkg -x` into a temporary root (nothing is installed on the machine), runs the
# unpacked helper, and configures the consumer project with find_package against it.
# With -DINSTALL=ON (CI, as root) it installs the .deb for real with apt-get instead,
# lets the consumer find it under /usr, and purges it again, also when a check fails;
# it refuses to run where a cluster-deploy package is installed already.
#
#   cmake -DBUILD=<build tree> -DREPO=<repo> -DWORK=<scratch dir> [-DGENERATOR=<gen>] [-DINSTALL=ON]
#         -P RunPackage.cmake
cmake_minimum_required(VERSION 3.25)

foreach(var IN ITEMS BUILD REPO WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "RunPackage.cmake: -D${var}=... is required")
  endif()
endforeach()
if(NOT GENERATOR)
  set(GENERATOR Ninja)
endif()
foreach(tool IN ITEMS dpkg-deb dpkg-shlibdeps)
  find_program(have_${tool} ${tool})
  if(NOT have_${tool})
    message(STATUS "module.package.deb: ${tool} not found (package dpkg-dev): skipped")
    cmake_language(EXIT 77)
  endif()
endforeach()
if(NOT EXISTS "${BUILD}/tools/cluster-deploy/cluster-deploy")
  message(FATAL_ERROR "build ${BUILD} first (cmake --build ${BUILD}): the package holds its cluster-deploy")
endif()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")

set(installed FALSE)
# Fails the run; a package this run installed is purged first.
function(fail text)
  if(installed)
    execute_process(COMMAND dpkg --purge cluster-deploy OUTPUT_QUIET ERROR_QUIET)
  endif()
  message(FATAL_ERROR "${text}")
endfunction()

function(step what)
  message(STATUS "${what}")
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    fail("${what} failed (${result}):\n${out}\n${err}")
  endif()
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

function(expect_match what text regex)
  if(NOT text MATCHES "${regex}")
    fail("${what}: no match for\n  ${regex}\nin:\n${text}")
  endif()
  message(STATUS "ok   ${what}")
endfunction()

step("cpack" "${CMAKE_CPACK_COMMAND}" --config "${BUILD}/CPackConfig.cmake" -B "${WORK}/out")
file(GLOB debs "${WORK}/out/cluster-deploy_*.deb")
list(LENGTH debs count)
if(NOT count EQUAL 1)
  message(FATAL_ERROR "expected one cluster-deploy_*.deb in ${WORK}/out, found: ${debs}")
endif()
message(STATUS "ok   ${debs}")

step("dpkg-deb --field" dpkg-deb --field "${debs}" Package Version Depends Recommends)
expect_match("package name and version" "${step_output}" "Package: cluster-deploy\nVersion: [0-9]+\\.[0-9]+\\.[0-9]+\n")
expect_match("depends on the libraries the helper links (dpkg-shlibdeps)" "${step_output}" "Depends:[^\n]*libssh-4")
expect_match("depends on cmake >= 3.25" "${step_output}" "Depends:[^\n]*cmake \\(>= 3\\.25\\)")
expect_match("recommends what the local cluster needs" "${step_output}" "Recommends:[^\n]*systemd-container")

step("dpkg-deb --contents" dpkg-deb --contents "${debs}")
foreach(file IN ITEMS
    ./usr/bin/cluster-deploy
    ./usr/libexec/cluster-deploy/local-cluster/local-cluster
    ./usr/libexec/cluster-deploy/local-cluster/node.sh
    ./usr/lib/cmake/ClusterDeploy/ClusterDeployConfig.cmake
    ./usr/lib/cmake/ClusterDeploy/ClusterDeployConfigVersion.cmake
    ./usr/lib/cmake/ClusterDeploy/ClusterDeployTargets.cmake
    ./usr/lib/cmake/ClusterDeploy/ClusterDeploy.cmake
    ./usr/lib/cmake/ClusterDeploy/ClusterDeploy/RunSteps.cmake
    ./usr/share/doc/cluster-deploy/README.md
    ./usr/share/doc/cluster-deploy/docs/local-cluster.md)
  string(REPLACE "." "\\." file_re "${file}")
  expect_match("the package holds ${file}" "${step_output}" " ${file_re}(\n|$)")
endforeach()
expect_match("the package holds ./usr/bin/local-cluster, a symlink to the tool" "${step_output}"
  " \\./usr/bin/local-cluster -> \\.\\./libexec/cluster-deploy/local-cluster/local-cluster(\n|$)")
expect_match("nothing outside /usr" "${step_output}" "^[^\n]* \\./usr/")
if(step_output MATCHES "\n[^\n]* \\./(etc|opt|var|home)/")
  message(FATAL_ERROR "the package installs outside /usr:\n${step_output}")
endif()

if(INSTALL)
  execute_process(COMMAND dpkg-query -W "-f=\${Status}" cluster-deploy OUTPUT_VARIABLE status ERROR_QUIET)
  if(status MATCHES "installed")
    message(FATAL_ERROR "a cluster-deploy package is installed on this host already: not touching it")
  endif()
  set(root "")
  set(installed TRUE)
  step("apt-get install the .deb" apt-get install -y -qq --no-install-recommends "${debs}")
  set(prefix_args "")
  set(where "the installed package")
else()
  set(root "${WORK}/root")
  step("dpkg -x into ${root}" dpkg -x "${debs}" "${root}")
  set(prefix_args "-DCMAKE_PREFIX_PATH=${root}/usr")
  set(where "the unpacked package")
endif()
step("the packaged helper runs" "${root}/usr/bin/cluster-deploy" --help)
expect_match("the helper's help lists its commands" "${step_output}" "deploy.*status.*inventory")
step("the packaged local-cluster finds its parts" "${root}/usr/bin/local-cluster" --help)
expect_match("the local-cluster help" "${step_output}" "usage: local-cluster up\\|down\\|status")

step("configure the consumer against ${where}"
  "${CMAKE_COMMAND}" -S "${REPO}/tests/cmake/consumer" -B "${WORK}/consumer" -G "${GENERATOR}" ${prefix_args})
expect_match("find_package found the packaged helper" "${step_output}"
  "consumer: ClusterDeploy::cluster-deploy IMPORTED=TRUE")
step("list the consumer's tests" "${CMAKE_CTEST_COMMAND}" --test-dir "${WORK}/consumer" --show-only=json-v1)
string(REGEX REPLACE "([][+.*?()^$|\\])" "\\\\\\1" root_re "${root}")
expect_match("the consumer deploys with the packaged helper" "${step_output}"
  "\"${root_re}/usr/bin/cluster-deploy\",[ \n]*\"deploy\"")
expect_match("the consumer's local cluster is the packaged local-cluster" "${step_output}"
  "\"${root_re}/usr/bin/local-cluster\",[ \n]*\"up\"")
step("build the consumer's service" "${CMAKE_COMMAND}" --build "${WORK}/consumer" --target hello)
if(INSTALL)
  step("dpkg --purge the package again" dpkg --purge cluster-deploy)
  set(installed FALSE)
endif()
file(REMOVE_RECURSE "${WORK}")
message(STATUS "module.package.deb: all checks passed")

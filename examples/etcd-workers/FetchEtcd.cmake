# FetchEtcd: the etcd 3.4 binary of the example cluster's `servers`, as the imported executable
# target `example-etcd`.
#
# The binary comes out of Debian's etcd-server package without installing it (installing would
# start an etcd on the build machine): at configure time `apt-get download etcd-server` into the
# build tree, then `dpkg-deb -x`, then use <dir>/root/usr/bin/etcd. Both steps are skipped when
# their result is already there, so only the first configure touches the Debian mirror.

include_guard(GLOBAL)

set(_example_etcd_dir "${CMAKE_BINARY_DIR}/_deps/etcd-server")
set(_example_etcd_binary "${_example_etcd_dir}/root/usr/bin/etcd")

function(_example_etcd_fail what detail)
  string(STRIP "${detail}" detail)
  string(REGEX REPLACE "\n.*" "" detail "${detail}")  # first line only
  message(FATAL_ERROR "${what} (run the setup script first / check the Debian mirror): ${detail}")
endfunction()

# Sets <out> to the downloaded etcd-server .deb, downloading it if it is not there yet.
function(_example_etcd_download out)
  set(download_dir "${_example_etcd_dir}/download")
  file(GLOB debs "${download_dir}/etcd-server_*.deb")
  if(NOT debs)
    file(MAKE_DIRECTORY "${download_dir}")
    message(STATUS "Downloading etcd-server with apt-get download")
    execute_process(COMMAND apt-get download etcd-server
      WORKING_DIRECTORY "${download_dir}"
      RESULT_VARIABLE result OUTPUT_QUIET ERROR_VARIABLE error)
    file(GLOB debs "${download_dir}/etcd-server_*.deb")
    if(NOT result EQUAL 0 OR NOT debs)
      _example_etcd_fail("could not download etcd-server with apt-get" "apt-get exited ${result}: ${error}")
    endif()
  endif()
  list(GET debs 0 deb)
  set(${out} "${deb}" PARENT_SCOPE)
endfunction()

# Unpacks the .deb into a temporary folder renamed into place only when it worked, so an
# interrupted unpack is never mistaken for a finished one.
function(_example_etcd_unpack deb)
  set(staging "${_example_etcd_dir}/root.partial")
  file(REMOVE_RECURSE "${staging}")
  execute_process(COMMAND dpkg-deb -x "${deb}" "${staging}"
    RESULT_VARIABLE result OUTPUT_QUIET ERROR_VARIABLE error)
  if(NOT result EQUAL 0 OR NOT EXISTS "${staging}/usr/bin/etcd")
    _example_etcd_fail("could not unpack ${deb} with dpkg-deb" "dpkg-deb exited ${result}: ${error}")
  endif()
  file(REMOVE_RECURSE "${_example_etcd_dir}/root")
  file(RENAME "${staging}" "${_example_etcd_dir}/root")
endfunction()

if(NOT EXISTS "${_example_etcd_binary}")
  _example_etcd_download(_example_etcd_deb)
  _example_etcd_unpack("${_example_etcd_deb}")
  unset(_example_etcd_deb)
endif()

add_executable(example-etcd IMPORTED GLOBAL)
set_target_properties(example-etcd PROPERTIES IMPORTED_LOCATION "${_example_etcd_binary}")

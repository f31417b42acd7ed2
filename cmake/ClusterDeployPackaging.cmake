# The Debian package of ClusterDeploy (CPack DEB), included from the top-level
# CMakeLists.txt when ClusterDeploy is the top-level project.
#
#   cmake --build <build> --target package      # or: cd <build> && cpack
#
# makes <build>/cluster-deploy_<version>_<arch>.deb with everything `cmake --install`
# installs, under /usr: bin/cluster-deploy, bin/local-cluster (-> libexec/cluster-deploy/local-cluster/), lib/cmake/ClusterDeploy
# (the module and its package config, so find_package(ClusterDeploy) works) and
# share/doc/cluster-deploy. The libraries the helper links come from dpkg-shlibdeps.
include_guard(GLOBAL)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME cluster-deploy)
set(CPACK_PACKAGE_VENDOR ClusterDeploy)
set(CPACK_PACKAGE_CONTACT "ClusterDeploy maintainers <cluster-deploy@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_DESCRIPTION
  "A CMake/CTest plugin and a C++ helper (cluster-deploy, libssh) that deploy the executables of a
CMake project as systemd services to Linux nodes over SSH and run CTest tests against them, plus
local-cluster, a local cluster of systemd-nspawn nodes.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The module needs CMake >= 3.25; the local cluster needs the programs the local-cluster tool runs.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "cmake (>= 3.25), openssh-client")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd-container, debootstrap, iproute2")
set(CPACK_STRIP_FILES ON)
include(CPack)

# Install rules and package files for ClusterDeploy (included from the top-level CMakeLists.txt).
#
# Installed layout:
#   bin/cluster-deploy, bin/local-cluster (a symlink to the tool, which finds its parts beside it:)
#   libexec/cluster-deploy/local-cluster/{local-cluster,*.sh}
#   lib/cmake/ClusterDeploy/{ClusterDeployConfig,ClusterDeployConfigVersion,ClusterDeployTargets}.cmake
#   lib/cmake/ClusterDeploy/ClusterDeploy.cmake and ClusterDeploy/ (its -P scripts)
#   share/doc/cluster-deploy/ (README.md, ARCHITECTURE.md, docs/*.md)
# Consumers: find_package(ClusterDeploy) after installing, or add_subdirectory/FetchContent.
include_guard(GLOBAL)

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(CLUSTER_DEPLOY_INSTALL "Generate install rules for ClusterDeploy" ${PROJECT_IS_TOP_LEVEL})

set(_cluster_deploy_cmake_dir "lib/cmake/ClusterDeploy")
set(_cluster_deploy_pkg_dir "${PROJECT_BINARY_DIR}/ClusterDeployPackage")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/ClusterDeployConfig.cmake.in"
  "${_cluster_deploy_pkg_dir}/ClusterDeployConfig.cmake"
  INSTALL_DESTINATION "${_cluster_deploy_cmake_dir}"
  PATH_VARS CMAKE_INSTALL_BINDIR)
write_basic_package_version_file(
  "${_cluster_deploy_pkg_dir}/ClusterDeployConfigVersion.cmake"
  VERSION "${PROJECT_VERSION}"
  COMPATIBILITY SameMajorVersion)

if(CLUSTER_DEPLOY_INSTALL)
  install(TARGETS cluster-deploy EXPORT ClusterDeployTargets
    RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
  install(EXPORT ClusterDeployTargets
    NAMESPACE ClusterDeploy::
    DESTINATION "${_cluster_deploy_cmake_dir}")
  install(FILES
      "${_cluster_deploy_pkg_dir}/ClusterDeployConfig.cmake"
      "${_cluster_deploy_pkg_dir}/ClusterDeployConfigVersion.cmake"
      "${PROJECT_SOURCE_DIR}/cmake/ClusterDeploy.cmake"
    DESTINATION "${_cluster_deploy_cmake_dir}")
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/cmake/ClusterDeploy"
    DESTINATION "${_cluster_deploy_cmake_dir}" USE_SOURCE_PERMISSIONS)
  install(FILES "${PROJECT_SOURCE_DIR}/README.md" "${PROJECT_SOURCE_DIR}/ARCHITECTURE.md"
    DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/doc/cluster-deploy")
  install(DIRECTORY "${PROJECT_SOURCE_DIR}/docs/"
    DESTINATION "${CMAKE_INSTALL_DATAROOTDIR}/doc/cluster-deploy/docs")
  if(EXISTS "${PROJECT_SOURCE_DIR}/tools/local-cluster/local-cluster")
    set(_cluster_deploy_tool_dir "${CMAKE_INSTALL_LIBEXECDIR}/cluster-deploy/local-cluster")
    install(PROGRAMS "${PROJECT_SOURCE_DIR}/tools/local-cluster/local-cluster"
      DESTINATION "${_cluster_deploy_tool_dir}")
    file(GLOB _cluster_deploy_tool_parts "${PROJECT_SOURCE_DIR}/tools/local-cluster/*.sh")
    install(FILES ${_cluster_deploy_tool_parts} DESTINATION "${_cluster_deploy_tool_dir}")
    # bin/local-cluster: a relative symlink, installed as a symlink (also into the .deb).
    file(RELATIVE_PATH _cluster_deploy_link_target "/${CMAKE_INSTALL_BINDIR}"
      "/${_cluster_deploy_tool_dir}/local-cluster")
    file(CREATE_LINK "${_cluster_deploy_link_target}" "${_cluster_deploy_pkg_dir}/local-cluster" SYMBOLIC)
    install(FILES "${_cluster_deploy_pkg_dir}/local-cluster" DESTINATION "${CMAKE_INSTALL_BINDIR}")
    unset(_cluster_deploy_tool_dir)
    unset(_cluster_deploy_tool_parts)
    unset(_cluster_deploy_link_target)
  endif()
endif()

unset(_cluster_deploy_cmake_dir)
unset(_cluster_deploy_pkg_dir)

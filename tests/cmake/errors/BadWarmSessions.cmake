cluster_deploy_inventory(inventory CLUSTER c)
cluster_deploy_service(api PROGRAM /bin/true GROUP servers)
set(CLUSTER_DEPLOY_WARM_SESSIONS soon CACHE STRING "" FORCE)

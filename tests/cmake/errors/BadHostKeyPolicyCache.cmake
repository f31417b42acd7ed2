cluster_deploy_inventory(inventory CLUSTER c)
set(CLUSTER_DEPLOY_HOST_KEY_POLICY maybe CACHE STRING "" FORCE)

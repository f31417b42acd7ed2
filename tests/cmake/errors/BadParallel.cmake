cluster_deploy_inventory(inventory CLUSTER c PARALLEL 0)

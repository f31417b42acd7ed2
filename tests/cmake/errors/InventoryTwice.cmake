cluster_deploy_inventory(inventory CLUSTER c)
cluster_deploy_inventory(inventory CLUSTER d)

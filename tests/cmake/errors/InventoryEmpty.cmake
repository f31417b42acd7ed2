cluster_deploy_inventory(empty-inventory CLUSTER c)

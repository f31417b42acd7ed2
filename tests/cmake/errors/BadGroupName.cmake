cluster_deploy_inventory(bad-group-inventory CLUSTER c)

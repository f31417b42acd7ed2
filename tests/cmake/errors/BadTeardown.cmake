cluster_deploy_inventory(inventory CLUSTER c TEARDOWN destroy)

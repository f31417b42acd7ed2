cluster_deploy_inventory(no-such-dir CLUSTER c)

cluster_deploy_inventory(inventory CLUSTER c HOST_KEY_POLICY yes)

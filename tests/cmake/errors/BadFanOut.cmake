cluster_deploy_inventory(inventory CLUSTER c FAN_OUT sometimes)

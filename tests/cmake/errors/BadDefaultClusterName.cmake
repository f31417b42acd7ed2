project(Bad_Name LANGUAGES NONE)
cluster_deploy_inventory(inventory)

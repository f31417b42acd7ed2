cluster_deploy_inventory(inventory CLUSTER c)
cluster_deploy_service(api PROGRAM /bin/true GROUP servers QUORUM exec "q" MEMBERS exec "m"
  LEAVE exec "l @member@" TRANSFER exec "t @member@")

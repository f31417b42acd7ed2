cluster_deploy_service(api PROGRAM /bin/true GROUP servers)

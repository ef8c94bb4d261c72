# The import ID is NAME=ENDPOINT, optionally followed by the base content paths: NAME=ENDPOINT,PATH,PATH.
# Credentials cannot be read back: set them in the configuration.
terraform import chartreg_oci_registry.harbor 'harbor=registry.example.com,library'

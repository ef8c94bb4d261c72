# The import ID is NAME=ENDPOINT. Credentials cannot be read back: set them in the configuration.
terraform import chartreg_helm_registry.stable 'stable=https://charts.example.com/stable'

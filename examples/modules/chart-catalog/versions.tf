terraform {
  required_version = ">= 1.0"
  required_providers {
    chartreg = {
      source = "chartreg/chartreg"
    }
  }
}

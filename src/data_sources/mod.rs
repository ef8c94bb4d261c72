//! Data sources (`chartreg_helm_chart`, `chartreg_helm_charts`) land here, one file each.

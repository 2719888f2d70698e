"""The managed stack: one spec module per service (config -> ServiceSpec) and the installer of the JVM parts."""

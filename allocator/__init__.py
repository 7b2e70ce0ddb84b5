"""allocator: balanced allocation of education resources between urban, town and rural schools."""

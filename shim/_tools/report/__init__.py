"""``shim report``: the call sites an audit trail saw, busiest first."""

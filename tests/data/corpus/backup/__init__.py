"""An incremental backup tool in the style of the rsync-era Python tools."""

"""Media processing without a database: probing, validation, transcoding and derived files.
Untrusted files are only ever parsed in child processes with time limits."""

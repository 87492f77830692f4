//! The `asl exec` command as a function.

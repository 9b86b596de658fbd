// Package process runs the child processes of a local cluster: each with
// its own log file and pid file, in its own process group, killed by the
// kernel if its parent dies, and stopped with SIGTERM then SIGKILL.
package process

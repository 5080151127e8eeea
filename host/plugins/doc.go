// Package plugins runs vault connectors as verified, supervised, swappable
// child processes.
//
// The catalog finds connector binaries in the plugin directory and picks a
// version per type; the lock file pins each binary's sha256, and the bytes
// that were hashed are the bytes that run (they are copied into a private
// directory first, so swapping the file after the check changes nothing).
// A Plugin supervises one type: it starts the process over go-plugin with
// mutual TLS and an empty environment, configures every instance in it,
// pings it, restarts it with backoff when it dies, and swaps in a new
// version without failing calls in flight.
package plugins

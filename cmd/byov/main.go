// Command byov is the byov host and its command-line client, in the manner
// of the vault CLI: `byov serve` runs the host, `byov dev` runs a demo host
// in one command, and the other commands talk to a running host over its
// HTTP API (BYOV_ADDR, BYOV_TOKEN).
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one leaf of the command tree.
type command struct {
	synopsis string
	run      func(args []string) error
}

// commands maps "group sub" (or a lone word) to its command.
var commands = map[string]command{}

func register(name, synopsis string, run func(args []string) error) {
	commands[name] = command{synopsis: synopsis, run: run}
}

// exitError carries an exit code without another message.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

var stdout, stderr io.Writer = os.Stdout, os.Stderr

func run(args []string, out, errOut io.Writer) int {
	stdout, stderr = out, errOut
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	name, rest := args[0], args[1:]
	cmd, ok := commands[name]
	if !ok && len(args) > 1 {
		name, rest = args[0]+" "+args[1], args[2:]
		cmd, ok = commands[name]
	}
	if !ok {
		if group := groupUsage(args[0]); group != "" {
			fmt.Fprint(stderr, group)
			return 2
		}
		fmt.Fprintf(stderr, "byov: unknown command %q\n\n", strings.Join(args, " "))
		usage(stderr)
		return 2
	}
	if err := cmd.run(rest); err != nil {
		if code, ok := err.(exitError); ok {
			return int(code)
		}
		fmt.Fprintf(stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: byov <command> [options] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-20s %s\n", n, commands[n].synopsis)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Client commands use BYOV_ADDR (http://, https:// or unix://) and BYOV_TOKEN.")
	fmt.Fprintln(w, "Run `byov <command> -h` for a command's options.")
}

// groupUsage lists the subcommands of a group such as "session".
func groupUsage(group string) string {
	var b strings.Builder
	names := []string{}
	for n := range commands {
		if strings.HasPrefix(n, group+" ") {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return ""
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "Usage: byov %s <subcommand>\n\nSubcommands:\n", group)
	for _, n := range names {
		fmt.Fprintf(&b, "  %-20s %s\n", n, commands[n].synopsis)
	}
	return b.String()
}

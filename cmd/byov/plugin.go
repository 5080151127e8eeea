package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"

	"github.com/byov/byov/host/plugins"
	"github.com/byov/byov/host/server"
)

func init() {
	register("plugin lock", "Pin the sha256 of every connector binary in byov.lock.hcl", cmdPluginLock)
}

func cmdPluginLock(args []string) error {
	fs := newFlags("plugin lock", "plugin lock [-config byov.hcl] [-update TYPE]... [-plugin-dir DIR]")
	configPath := fs.String("config", "byov.hcl", "the configuration file; the lock file is written beside it")
	pluginDir := fs.String("plugin-dir", "", "the plugin directory (default: server.plugin_dir of the configuration)")
	var update multiFlag
	fs.Var(&update, "update", "pin the current binaries of this type afresh, replacing changed pins (repeatable; \"all\" for every type)")
	if err := parse(fs, args); err != nil {
		return err
	}
	dir := *pluginDir
	if dir == "" {
		cfg, _, err := server.LoadConfig(*configPath, nil, hclog.NewNullLogger())
		if err != nil {
			return err
		}
		dir = cfg.Server.PluginDir
	}
	bins, problems, err := plugins.Scan(dir)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintf(stderr, "Warning: skipped %v\n", p)
	}
	lockPath := server.LockFilePath(*configPath)
	lock, err := plugins.ReadLock(lockPath)
	if err != nil {
		return err
	}
	if lock == nil {
		lock = &plugins.Lock{}
	}
	types := map[string]bool{}
	all := false
	for _, t := range update {
		if t == "all" {
			all = true
		}
		types[t] = true
	}
	results, err := lock.Update(bins, types, all)
	if err != nil {
		return err
	}
	if err := lock.Write(lockPath); err != nil {
		return err
	}
	sort.Slice(results, func(i, j int) bool { return results[i].Entry.File < results[j].Entry.File })
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tFILE\tSHA256\tCHANGE")
	mismatches := []string{}
	for _, r := range results {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.Entry.Type, r.Entry.File, r.Entry.SHA256[:16]+"…", r.Change)
		if r.Change == "mismatch" {
			mismatches = append(mismatches, r.Entry.Type)
		}
	}
	tw.Flush()
	fmt.Fprintf(stdout, "Wrote %s.\n", lockPath)
	if len(mismatches) > 0 {
		fmt.Fprintf(stderr, "Warning: these binaries changed since they were pinned and stay refused: %s.\n"+
			"If you trust them, run `byov plugin lock -update TYPE`.\n", strings.Join(mismatches, ", "))
	}
	return nil
}

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

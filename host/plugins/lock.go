package plugins

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// LockFileName is the lock file's name, kept beside the host's config.
const LockFileName = "byov.lock.hcl"

// LockEntry pins one connector binary.
type LockEntry struct {
	Type    string `hcl:"type,label"`
	File    string `hcl:"file"`
	Version string `hcl:"version,optional"`
	SHA256  string `hcl:"sha256"`
}

// Lock is the content of byov.lock.hcl. A nil *Lock means there is no lock
// file, and binaries run unverified (the host warns about it).
type Lock struct {
	Entries []LockEntry `hcl:"plugin,block"`
}

// ReadLock reads a lock file. A missing file gives (nil, nil).
func ReadLock(path string) (*Lock, error) {
	src, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the lock file: %w", err)
	}
	f, diags := hclparse.NewParser().ParseHCL(src, path)
	if diags.HasErrors() {
		return nil, fmt.Errorf("the lock file is damaged: %w", diags)
	}
	var l Lock
	if diags := gohcl.DecodeBody(f.Body, nil, &l); diags.HasErrors() {
		return nil, fmt.Errorf("the lock file is damaged: %w", diags)
	}
	for _, e := range l.Entries {
		if len(e.SHA256) != 64 || strings.Trim(e.SHA256, "0123456789abcdef") != "" {
			return nil, fmt.Errorf("the lock file is damaged: plugin %q file %q has an sha256 that is not 64 lower-case hex digits", e.Type, e.File)
		}
	}
	return &l, nil
}

// Write stores the lock file atomically.
func (l *Lock) Write(path string) error {
	f := hclwrite.NewEmptyFile()
	body := f.Body()
	body.AppendUnstructuredTokens(hclwrite.Tokens{{Type: hclsyntax.TokenComment, Bytes: []byte(
		"# This file is maintained by `byov plugin lock`. It pins the sha256 of every\n" +
			"# connector binary the host may run; a binary not listed here is refused.\n")}})
	entries := append([]LockEntry(nil), l.Entries...)
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].Type != entries[j].Type {
			return entries[i].Type < entries[j].Type
		}
		return entries[i].File < entries[j].File
	})
	for _, e := range entries {
		body.AppendNewline()
		b := body.AppendNewBlock("plugin", []string{e.Type}).Body()
		b.SetAttributeValue("file", cty.StringVal(e.File))
		if e.Version != "" {
			b.SetAttributeValue("version", cty.StringVal(e.Version))
		}
		b.SetAttributeValue("sha256", cty.StringVal(e.SHA256))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".byov.lock.*")
	if err != nil {
		return fmt.Errorf("writing the lock file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(f.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("writing the lock file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing the lock file: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("writing the lock file: %w", err)
	}
	return os.Rename(tmp.Name(), path)
}

// entry returns the pin for a binary file, if any.
func (l *Lock) entry(typ, file string) (LockEntry, bool) {
	for _, e := range l.Entries {
		if e.Type == typ && e.File == file {
			return e, true
		}
	}
	return LockEntry{}, false
}

// Verify checks a binary's hash against the lock. With no lock file every
// binary passes.
func (l *Lock) Verify(b Binary, sum string) error {
	if l == nil {
		return nil
	}
	e, ok := l.entry(b.Type, b.Name())
	if !ok {
		var pinned []string
		for _, e := range l.Entries {
			if e.Type == b.Type {
				pinned = append(pinned, fmt.Sprintf("%s sha256 %s", e.File, e.SHA256))
			}
		}
		return fmt.Errorf("refusing to run %s: its sha256 %s is not in %s (pinned for %s: %s); if you trust this binary, run `byov plugin lock -update %s`",
			b.Name(), sum, LockFileName, b.Type, listOrNone(pinned), b.Type)
	}
	if e.SHA256 != sum {
		return fmt.Errorf("refusing to run %s: its sha256 is %s but %s pins %s; the file changed since it was locked. If you trust the new binary, run `byov plugin lock -update %s`",
			b.Name(), sum, LockFileName, e.SHA256, b.Type)
	}
	return nil
}

// LockResult says what Update did to one binary's pin.
type LockResult struct {
	Entry LockEntry
	// Change is "added", "updated", "unchanged", "removed" or "mismatch" (a
	// changed binary of a type not being updated: its old pin is kept).
	Change string
}

// Update pins the binaries found in dir. Types in update (or every type when
// all is true) are pinned afresh; for other types new files are added but a
// pin that no longer matches is kept, and reported as a mismatch, so that a
// changed binary is never accepted without being asked for by name.
func (l *Lock) Update(bins []Binary, update map[string]bool, all bool) ([]LockResult, error) {
	var results []LockResult
	next := []LockEntry{}
	seen := map[string]bool{}
	for _, b := range bins {
		sum, err := HashFile(b.Path)
		if err != nil {
			return nil, err
		}
		fresh := LockEntry{Type: b.Type, File: b.Name(), Version: b.VersionString(), SHA256: sum}
		seen[b.Type+"/"+b.Name()] = true
		old, had := l.entry(b.Type, b.Name())
		switch {
		case !had:
			next = append(next, fresh)
			results = append(results, LockResult{fresh, "added"})
		case old.SHA256 == sum:
			next = append(next, fresh)
			results = append(results, LockResult{fresh, "unchanged"})
		case all || update[b.Type]:
			next = append(next, fresh)
			results = append(results, LockResult{fresh, "updated"})
		default:
			next = append(next, old)
			results = append(results, LockResult{fresh, "mismatch"})
		}
	}
	for _, e := range l.Entries {
		if seen[e.Type+"/"+e.File] {
			continue
		}
		if all || update[e.Type] {
			results = append(results, LockResult{e, "removed"})
			continue
		}
		next = append(next, e)
	}
	l.Entries = next
	return results, nil
}

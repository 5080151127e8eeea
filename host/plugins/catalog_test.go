package plugins

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/go-version"
)

func writeExec(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
}

func TestScanAndSelect(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{
		"byov-connector-ps_1.0.0", "byov-connector-ps_1.10.0", "byov-connector-ps_1.2.0",
		"byov-connector-plain", "README.md", "byov-connector-ps_banana", "byov-connector-Bad",
	} {
		writeExec(t, dir, n, n)
	}
	if err := os.WriteFile(filepath.Join(dir, "byov-connector-noexec_1.0.0"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	bins, problems, err := Scan(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, b := range bins {
		names = append(names, b.Name())
	}
	if got, want := strings.Join(names, ","), "byov-connector-plain,byov-connector-ps_1.10.0,byov-connector-ps_1.2.0,byov-connector-ps_1.0.0"; got != want {
		t.Fatalf("scan order:\n got %s\nwant %s", got, want)
	}
	if len(problems) != 3 {
		t.Fatalf("want 3 problems (bad version, bad type, not executable), got %v", problems)
	}

	c := func(s string) version.Constraints { v, _ := version.NewConstraint(s); return v }
	for _, tc := range []struct {
		name, typ, want, expect, errPart string
		constraint                       version.Constraints
	}{
		{name: "highest", typ: "ps", expect: "byov-connector-ps_1.10.0"},
		{name: "constrained", typ: "ps", constraint: c("~> 1.2.0"), expect: "byov-connector-ps_1.2.0"},
		{name: "exact", typ: "ps", want: "1.0.0", expect: "byov-connector-ps_1.0.0"},
		{name: "exact outside constraint", typ: "ps", want: "1.0.0", constraint: c(">= 1.2"), errPart: "does not meet"},
		{name: "none meets", typ: "ps", constraint: c(">= 2.0"), errPart: "1.10.0, 1.2.0, 1.0.0"},
		{name: "missing version", typ: "ps", want: "3.0.0", errPart: "found: 1.10.0, 1.2.0, 1.0.0"},
		{name: "unversioned", typ: "plain", expect: "byov-connector-plain"},
		{name: "absent type", typ: "nope", errPart: "byov-connector-nope_<version>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Select(bins, tc.typ, tc.constraint, tc.want)
			if tc.errPart != "" {
				if err == nil || !strings.Contains(err.Error(), tc.errPart) {
					t.Fatalf("want an error containing %q, got %v", tc.errPart, err)
				}
				return
			}
			if err != nil || b.Name() != tc.expect {
				t.Fatalf("got %s, %v; want %s", b.Name(), err, tc.expect)
			}
		})
	}
}

func TestScanMissingDirectory(t *testing.T) {
	_, _, err := Scan(filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(err.Error(), "plugin_dir") {
		t.Fatalf("want an error pointing at plugin_dir, got %v", err)
	}
}

func TestLockUpdateKeepsChangedPinsUnlessAsked(t *testing.T) {
	dir := t.TempDir()
	writeExec(t, dir, "byov-connector-a_1.0.0", "a1")
	writeExec(t, dir, "byov-connector-b_1.0.0", "b1")
	lockPath := filepath.Join(dir, LockFileName)
	scan := func() []Binary {
		bins, _, err := Scan(dir)
		if err != nil {
			t.Fatal(err)
		}
		return bins
	}
	lock := &Lock{}
	if _, err := lock.Update(scan(), nil, false); err != nil {
		t.Fatal(err)
	}
	if err := lock.Write(lockPath); err != nil {
		t.Fatal(err)
	}
	read, err := ReadLock(lockPath)
	if err != nil || len(read.Entries) != 2 {
		t.Fatalf("read back %+v, %v", read, err)
	}

	// Both binaries change; only b is updated by name.
	writeExec(t, dir, "byov-connector-a_1.0.0", "a1-changed")
	writeExec(t, dir, "byov-connector-b_1.0.0", "b1-changed")
	results, err := read.Update(scan(), map[string]bool{"b": true}, false)
	if err != nil {
		t.Fatal(err)
	}
	changes := map[string]string{}
	for _, r := range results {
		changes[r.Entry.Type] = r.Change
	}
	if changes["a"] != "mismatch" || changes["b"] != "updated" {
		t.Fatalf("changes: %v", changes)
	}
	sumA, _ := HashFile(filepath.Join(dir, "byov-connector-a_1.0.0"))
	sumB, _ := HashFile(filepath.Join(dir, "byov-connector-b_1.0.0"))
	if err := read.Verify(Binary{Type: "a", Path: filepath.Join(dir, "byov-connector-a_1.0.0")}, sumA); err == nil {
		t.Fatal("the changed, not updated binary a verifies")
	}
	if err := read.Verify(Binary{Type: "b", Path: filepath.Join(dir, "byov-connector-b_1.0.0")}, sumB); err != nil {
		t.Fatalf("the updated binary b does not verify: %v", err)
	}
	var nilLock *Lock
	if err := nilLock.Verify(Binary{Type: "a"}, "x"); err != nil {
		t.Fatalf("without a lock file every binary passes: %v", err)
	}
}

func TestDamagedLockFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), LockFileName)
	for _, content := range []string{`plugin "a" {`, `plugin "a" { file = "x" sha256 = "zz" }`, `nonsense = 1`} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadLock(path); err == nil || !strings.Contains(err.Error(), "lock file") {
			t.Errorf("%q: want a lock file error, got %v", content, err)
		}
	}
}

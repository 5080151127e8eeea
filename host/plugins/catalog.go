package plugins

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/byov/byov/sdk"
)

// BinaryPrefix starts the file name of every connector binary.
const BinaryPrefix = "byov-connector-"

// Binary is a connector binary found in the plugin directory.
type Binary struct {
	Type string
	// Version comes from the file name suffix; nil for a binary named
	// without one, whose version is then whatever its metadata says.
	Version *version.Version
	Path    string
}

// Name is the binary's file name.
func (b Binary) Name() string { return filepath.Base(b.Path) }

// VersionString returns the version from the file name, or "" when it has none.
func (b Binary) VersionString() string {
	if b.Version == nil {
		return ""
	}
	return b.Version.String()
}

// ParseBinaryName splits byov-connector-<type>[_<semver>]. ok is false for
// names that are not connector binaries at all.
func ParseBinaryName(name string) (typ string, v *version.Version, ok bool, err error) {
	rest, found := strings.CutPrefix(name, BinaryPrefix)
	if !found || rest == "" {
		return "", nil, false, nil
	}
	typ, suffix, hasVersion := strings.Cut(rest, "_")
	if !sdk.ValidType(typ) {
		return "", nil, true, fmt.Errorf("%s: %q is not a connector type; a type is lower-case letters, digits and dashes", name, typ)
	}
	if !hasVersion {
		return typ, nil, true, nil
	}
	v, err = version.NewSemver(strings.TrimPrefix(suffix, "v"))
	if err != nil {
		return typ, nil, true, fmt.Errorf("%s: %q after the underscore is not a semantic version such as 1.2.0", name, suffix)
	}
	return typ, v, true, nil
}

// Scan lists the connector binaries in dir, by type and then by descending
// version. Files whose names are not connector names are ignored; badly
// named connector files are reported in problems and skipped, so one stray
// file does not stop the others.
func Scan(dir string) (bins []Binary, problems []error, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("the plugin directory %s does not exist; set server.plugin_dir or run `make build`", dir)
		}
		return nil, nil, fmt.Errorf("reading the plugin directory: %w", err)
	}
	for _, e := range entries {
		typ, v, ok, perr := ParseBinaryName(e.Name())
		if !ok {
			continue
		}
		if perr != nil {
			problems = append(problems, perr)
			continue
		}
		path := filepath.Join(dir, e.Name())
		info, err := os.Stat(path)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", e.Name(), err))
			continue
		}
		if !info.Mode().IsRegular() || info.Mode().Perm()&0o111 == 0 {
			problems = append(problems, fmt.Errorf("%s is not an executable file; chmod +x it or remove it", e.Name()))
			continue
		}
		bins = append(bins, Binary{Type: typ, Version: v, Path: path})
	}
	sort.SliceStable(bins, func(i, j int) bool {
		if bins[i].Type != bins[j].Type {
			return bins[i].Type < bins[j].Type
		}
		return newer(bins[i].Version, bins[j].Version)
	})
	return bins, problems, nil
}

// newer orders versioned binaries first, highest version first.
func newer(a, b *version.Version) bool {
	switch {
	case a == nil:
		return false
	case b == nil:
		return true
	}
	return a.GreaterThan(b)
}

// Select picks the binary to run for typ: the one with exactly want when
// want is set, else the highest version that meets the constraint. A binary
// named without a version is taken only when the type has no versioned
// binary; its metadata version is checked against the constraint at start.
func Select(bins []Binary, typ string, constraint version.Constraints, want string) (Binary, error) {
	var candidates, rejected []string
	var unversioned *Binary
	for i, b := range bins {
		if b.Type != typ {
			continue
		}
		if b.Version == nil {
			unversioned = &bins[i]
			continue
		}
		candidates = append(candidates, b.Version.String())
		if want != "" {
			if b.Version.String() == strings.TrimPrefix(want, "v") {
				if constraint != nil && !constraint.Check(b.Version) {
					return Binary{}, fmt.Errorf("connector %s %s does not meet the configured constraint %q", typ, b.Version, constraint)
				}
				return b, nil
			}
			continue
		}
		if constraint == nil || constraint.Check(b.Version) {
			return b, nil
		}
		rejected = append(rejected, b.Version.String())
	}
	switch {
	case want != "":
		return Binary{}, fmt.Errorf("there is no binary of connector %s version %s in the plugin directory (found: %s)", typ, want, listOrNone(candidates))
	case unversioned != nil && len(candidates) == 0:
		return *unversioned, nil
	case len(rejected) > 0:
		return Binary{}, fmt.Errorf("no binary of connector %s meets the version constraint %q (found: %s)", typ, constraint, strings.Join(rejected, ", "))
	}
	return Binary{}, fmt.Errorf("no binary for connector type %q in the plugin directory; expected a file named %s%s or %s%s_<version>", typ, BinaryPrefix, typ, BinaryPrefix, typ)
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

// readAndHash reads a binary whole and returns its bytes and sha256 in hex.
// The host runs exactly these bytes.
func readAndHash(path string) ([]byte, string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("reading connector binary: %w", err)
	}
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:]), nil
}

// HashFile returns the sha256 of a file in hex.
func HashFile(path string) (string, error) {
	_, sum, err := readAndHash(path)
	return sum, err
}

// execCopyPath is where the verified copy of a binary with this hash runs.
func execCopyPath(execDir, name, sum string) string {
	return filepath.Join(execDir, sum[:32], name)
}

// placeExecCopy writes the verified bytes into the private exec directory,
// under a folder named by their hash, and returns the path to run. The copy
// is written under a temporary name and renamed, so a file at the final path
// is always whole; the directory is the host user's alone.
func placeExecCopy(execDir, name string, data []byte, sum string) (string, error) {
	path := execCopyPath(execDir, name, sum)
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating the private exec directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".incoming-*")
	if err != nil {
		return "", fmt.Errorf("creating the exec copy: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing the exec copy: %w", err)
	}
	if err := tmp.Chmod(0o500); err != nil {
		tmp.Close()
		return "", fmt.Errorf("writing the exec copy: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("writing the exec copy: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return "", fmt.Errorf("placing the exec copy: %w", err)
	}
	return path, nil
}

// PrepareExecDir creates dir as a directory only the host's user can enter.
func PrepareExecDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating the plugin exec directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("securing the plugin exec directory: %w", err)
	}
	return nil
}

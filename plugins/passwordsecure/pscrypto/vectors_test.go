package pscrypto

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// vectors are the vendor's cross-language test vectors (PROTOCOL.md §7),
// kept outside the repository: see loadVectors.
type vectors map[string][]byte

// loadVectors finds ../shared/passwordsecure/test_vectors.json next to the
// root of module github.com/byov/byov, walking up from the test's directory.
// The vectors are not redistributable, so they are never copied in; without
// them the test is skipped, naming the path it looked at.
func loadVectors(t testing.TB) vectors {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("cannot read the working directory: %v", err)
	}
	root := ""
	for d := dir; ; d = filepath.Dir(d) {
		if isRootModule(filepath.Join(d, "go.mod")) {
			root = d
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if root == "" {
		t.Skipf("no go.mod declaring module github.com/byov/byov above %s, so the vendor test vectors cannot be located", dir)
	}
	path := filepath.Join(root, "..", "shared", "passwordsecure", "test_vectors.json")
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		t.Skipf("vendor test vectors not found at %s; place test_vectors.json there to run this test", path)
	}
	if err != nil {
		t.Fatalf("reading %s: %v", path, err)
	}
	var fields map[string]string
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	v := vectors{}
	for k, s := range fields {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("field %s of %s is not base64: %v", k, path, err)
		}
		v[k] = b
	}
	return v
}

func isRootModule(goMod string) bool {
	f, err := os.Open(goMod)
	if err != nil {
		return false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := strings.TrimSpace(s.Text())
		if strings.HasPrefix(line, "module ") {
			return strings.Trim(strings.TrimSpace(strings.TrimPrefix(line, "module ")), `"`) == "github.com/byov/byov"
		}
	}
	return false
}

func (v vectors) get(t testing.TB, name string) []byte {
	t.Helper()
	b, ok := v[name]
	if !ok {
		t.Fatalf("the vector file has no field %q", name)
	}
	return b
}
